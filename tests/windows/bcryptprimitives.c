/* Test-harness stand-in for bcryptprimitives.dll, which Wine 8 lacks. Rust's std (1.78+) gets
 * its random numbers from ProcessPrng there; without this DLL beside the .exe the program dies
 * at load (status c0000135). It fills the buffer from advapi32's RtlGenRandom. Never shipped:
 * real Windows has the system DLL. Built by tests/windows/run.sh only. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
