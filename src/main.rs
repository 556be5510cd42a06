fn main() {
    std::process::exit(aws_vault::cli::main());
}
