/* Shared by the C tests: checks that report and exit, and the layout checks (Windows x64,
 * and ILP32 for wasm32 and x86, as the reference's table gives them). */
#ifndef WSENGINE_TEST_COMMON_H
#define WSENGINE_TEST_COMMON_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <websocket.h>

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

#define CHECK_HR(expr, want)                                                                          \
    do {                                                                                              \
        HRESULT got_ = (expr);                                                                        \
        if (got_ != (HRESULT)(want)) {                                                                \
            fprintf(stderr, "%s:%d: %s returned 0x%08X, want 0x%08X\n", __FILE__, __LINE__, #expr,  \
                    (unsigned)got_, (unsigned)(want));                                               \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

/* One direction of an in-memory transport. */
typedef struct {
    BYTE data[1 << 20];
    ULONG len;
} Pipe;

/* Writes a SEND_TO_NETWORK action's buffers into the pipe; returns the bytes written. */
static inline ULONG pipe_write(Pipe *p, const WEB_SOCKET_BUFFER *b, ULONG count) {
    ULONG moved = 0;
    for (ULONG i = 0; i < count; i++) {
        CHECK(p->len + b[i].Data.ulBufferLength <= sizeof p->data);
        memcpy(p->data + p->len, b[i].Data.pbBuffer, b[i].Data.ulBufferLength);
        p->len += b[i].Data.ulBufferLength;
        moved += b[i].Data.ulBufferLength;
    }
    return moved;
}

/* Reads what the pipe holds, up to `room` bytes, into `into`; returns the bytes read. */
static inline ULONG pipe_read(Pipe *p, BYTE *into, ULONG room) {
    ULONG moved = p->len < room ? p->len : room;
    memcpy(into, p->data, moved);
    memmove(p->data, p->data + moved, p->len - moved);
    p->len -= moved;
    return moved;
}

/* The client's request headers as a server receives them, Host first, in `all` (room for
 * `room` entries); returns how many. */
static inline ULONG with_host(WEB_SOCKET_HTTP_HEADER *all, ULONG room, const WEB_SOCKET_HTTP_HEADER *from, ULONG n) {
    static char host[] = "Host", here[] = "localhost";
    CHECK(n < room);
    all[0].pcName = host;
    all[0].ulNameLength = 4;
    all[0].pcValue = here;
    all[0].ulValueLength = 9;
    memcpy(all + 1, from, n * sizeof *from);
    return n + 1;
}

/* The opening handshake between two new handles, no subprotocol or extension. */
static inline void handshake(WEB_SOCKET_HANDLE client, WEB_SOCKET_HANDLE server) {
    PWEB_SOCKET_HTTP_HEADER req, resp;
    ULONG nreq, nresp;
    WEB_SOCKET_HTTP_HEADER request[16];
    CHECK_HR(WebSocketBeginClientHandshake(client, NULL, 0, NULL, 0, NULL, 0, &req, &nreq), S_OK);
    CHECK_HR(WebSocketBeginServerHandshake(server, NULL, NULL, 0, request, with_host(request, 16, req, nreq), &resp, &nresp), S_OK);
    CHECK_HR(WebSocketEndClientHandshake(client, resp, nresp, NULL, NULL, NULL), S_OK);
    CHECK_HR(WebSocketEndServerHandshake(server), S_OK);
}

/* The structures as Windows x64 lays them out (LLP64: ULONG is 32 bits, pointers 64). */
#if defined(__x86_64__) || defined(__aarch64__) || defined(_M_X64)
#ifdef __cplusplus
#define WSENGINE_STATIC_ASSERT static_assert
#else
#define WSENGINE_STATIC_ASSERT _Static_assert
#endif
WSENGINE_STATIC_ASSERT(sizeof(ULONG) == 4, "ULONG is 32 bits");
WSENGINE_STATIC_ASSERT(sizeof(HRESULT) == 4, "HRESULT is 32 bits");
WSENGINE_STATIC_ASSERT(sizeof(WEB_SOCKET_PROPERTY) == 24, "WEB_SOCKET_PROPERTY size");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_PROPERTY, Type) == 0, "Type");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_PROPERTY, pvValue) == 8, "pvValue");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_PROPERTY, ulValueSize) == 16, "ulValueSize");
WSENGINE_STATIC_ASSERT(sizeof(WEB_SOCKET_HTTP_HEADER) == 32, "WEB_SOCKET_HTTP_HEADER size");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, pcName) == 0, "pcName");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, ulNameLength) == 8, "ulNameLength");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, pcValue) == 16, "pcValue");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, ulValueLength) == 24, "ulValueLength");
WSENGINE_STATIC_ASSERT(sizeof(WEB_SOCKET_BUFFER) == 16, "WEB_SOCKET_BUFFER size");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, Data.pbBuffer) == 0, "Data.pbBuffer");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, Data.ulBufferLength) == 8, "Data.ulBufferLength");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, CloseStatus.pbReason) == 0, "CloseStatus.pbReason");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, CloseStatus.ulReasonLength) == 8, "CloseStatus.ulReasonLength");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, CloseStatus.usStatus) == 12, "CloseStatus.usStatus");
WSENGINE_STATIC_ASSERT(sizeof(WEB_SOCKET_ACTION) == 4 && sizeof(WEB_SOCKET_BUFFER_TYPE) == 4, "enums are 32 bits");
WSENGINE_STATIC_ASSERT(sizeof(WEB_SOCKET_HANDLE) == 8, "a handle is pointer-sized");
#elif defined(__wasm32__) || defined(__i386__)
/* ILP32 (wasm32, x86): the same structures with 4-byte pointers. */
#ifdef __cplusplus
#define WSENGINE_STATIC_ASSERT static_assert
#else
#define WSENGINE_STATIC_ASSERT _Static_assert
#endif
WSENGINE_STATIC_ASSERT(sizeof(WEB_SOCKET_PROPERTY) == 12, "WEB_SOCKET_PROPERTY size");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_PROPERTY, ulValueSize) == 8, "ulValueSize");
WSENGINE_STATIC_ASSERT(sizeof(WEB_SOCKET_HTTP_HEADER) == 16, "WEB_SOCKET_HTTP_HEADER size");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, pcValue) == 8, "pcValue");
WSENGINE_STATIC_ASSERT(sizeof(WEB_SOCKET_BUFFER) == 12, "WEB_SOCKET_BUFFER size");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, CloseStatus.usStatus) == 8, "CloseStatus.usStatus");
#endif

#endif
