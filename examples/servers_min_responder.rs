//! The floor for `bench/ecs-server.sh`: a bare hyper HTTP/1 server on a current-thread tokio
//! runtime (the same stack as aws-vault's ECS server) that answers every request with a fixed
//! ECS credentials JSON body, with no token check, routing or cache. Prints its port.
//!
//!     cargo run --release --example servers_min_responder
use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::Bytes;

const BODY: &str = "{\"AccessKeyId\":\"ASIAPROCPROCPROCPROC\",\"Expiration\":\"2030-01-01T00:00:00Z\",\"SecretAccessKey\":\"procsecret\",\"Token\":\"proctoken\"}\n";

fn main() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        println!("{}", listener.local_addr()?.port());
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req| async {
                    let mut r =
                        hyper::Response::new(Full::new(Bytes::from_static(BODY.as_bytes())));
                    r.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("application/json; charset=utf-8"),
                    );
                    Ok::<_, Infallible>(r)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}
