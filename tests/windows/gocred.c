/* A stand-in for the Go tool's side of the wincred backend, for tests/windows/run.sh: it uses
 * the Credential Manager exactly as the Go keyring does (a CRED_TYPE_GENERIC credential,
 * persisted "local machine", no user name, the blob = the raw item data).
 *
 *   gocred write TARGET DATA     write DATA (bytes of the argument) as the blob
 *   gocred read TARGET           print the blob (exit 2 if there is no such credential)
 *   gocred list FILTER           print the target names matching FILTER, one a line
 *   gocred wait-env OUT STOP     (a child for `exec --ecs-server`) write the ECS variables
 *                                to OUT, then wait until the file STOP exists, then exit 7
 *   gocred pipe-sddl NAME        print the owner and access list of the named pipe NAME
 */
#include <windows.h>
#include <wincred.h>
#include <aclapi.h>
#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static wchar_t *widen(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = malloc(n * sizeof(wchar_t));
    MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    return w;
}

static int fail(const char *what)
{
    fprintf(stderr, "gocred: %s failed: error %lu\n", what, GetLastError());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "pipe-sddl") == 0) {
        HANDLE h = CreateFileW(widen(argv[2]), GENERIC_READ | READ_CONTROL, 0, NULL,
                               OPEN_EXISTING, 0, NULL);
        if (h == INVALID_HANDLE_VALUE)
            return fail("CreateFileW");
        PSECURITY_DESCRIPTOR sd = NULL;
        DWORD rc = GetSecurityInfo(h, SE_KERNEL_OBJECT,
                                   OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                                   NULL, NULL, NULL, NULL, &sd);
        if (rc != ERROR_SUCCESS) {
            SetLastError(rc);
            return fail("GetSecurityInfo");
        }
        LPSTR text = NULL;
        if (!ConvertSecurityDescriptorToStringSecurityDescriptorA(
                sd, SDDL_REVISION_1, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                &text, NULL))
            return fail("ConvertSecurityDescriptorToStringSecurityDescriptorA");
        printf("%s\n", text);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "write") == 0) {
        CREDENTIALW c;
        memset(&c, 0, sizeof c);
        c.Type = CRED_TYPE_GENERIC;
        c.TargetName = widen(argv[2]);
        c.CredentialBlobSize = (DWORD)strlen(argv[3]);
        c.CredentialBlob = (LPBYTE)argv[3];
        c.Persist = CRED_PERSIST_LOCAL_MACHINE;
        return CredWriteW(&c, 0) ? 0 : fail("CredWriteW");
    }
    if (argc == 3 && strcmp(argv[1], "read") == 0) {
        PCREDENTIALW c;
        if (!CredReadW(widen(argv[2]), CRED_TYPE_GENERIC, 0, &c)) {
            if (GetLastError() == ERROR_NOT_FOUND)
                return 2;
            return fail("CredReadW");
        }
        fwrite(c->CredentialBlob, 1, c->CredentialBlobSize, stdout);
        printf("\n");
        CredFree(c);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "list") == 0) {
        DWORD count;
        PCREDENTIALW *creds;
        if (!CredEnumerateW(widen(argv[2]), 0, &count, &creds))
            return GetLastError() == ERROR_NOT_FOUND ? 0 : fail("CredEnumerateW");
        for (DWORD i = 0; i < count; i++) {
            char name[4096];
            WideCharToMultiByte(CP_UTF8, 0, creds[i]->TargetName, -1, name, sizeof name, NULL, NULL);
            printf("%s\n", name);
        }
        CredFree(creds);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "wait-env") == 0) {
        FILE *f = fopen(argv[2], "w");
        const char *uri = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
        const char *tok = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
        if (!f)
            return fail("fopen");
        fprintf(f, "%s\n%s\n", uri ? uri : "", tok ? tok : "");
        fclose(f);
        for (int i = 0; i < 1200; i++) {
            if (GetFileAttributesA(argv[3]) != INVALID_FILE_ATTRIBUTES)
                return 7;
            Sleep(100);
        }
        return 1;
    }
    fprintf(stderr, "usage: gocred write TARGET DATA | read TARGET | list FILTER | wait-env OUT STOP\n");
    return 64;
}
