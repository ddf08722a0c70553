/*
 * Handles on several threads at once: each thread runs its own client and server pair
 * through the handshake and 200 messages; a fifth thread creates and deletes handles the
 * whole time, and probes a deleted one. Calls on different handles run in parallel.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "common.h"

#define PAIRS 4
#define MESSAGES 200

/* Runs one handle's actions until NO_ACTION or a receive that needs bytes not there yet;
 * returns the number of bytes of the receive indicated, or -1. */
static long drive(WEB_SOCKET_HANDLE h, Pipe *out, Pipe *in, BYTE *got) {
    for (;;) {
        WEB_SOCKET_BUFFER b[2];
        ULONG count = 2, moved = 0;
        WEB_SOCKET_ACTION action;
        WEB_SOCKET_BUFFER_TYPE type;
        PVOID actx;
        CHECK_HR(WebSocketGetAction(h, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, NULL, &actx), S_OK);
        long indicated = -1;
        switch (action) {
        case WEB_SOCKET_NO_ACTION:
            return -1;
        case WEB_SOCKET_SEND_TO_NETWORK_ACTION:
            moved = pipe_write(out, b, count);
            break;
        case WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION:
            moved = pipe_read(in, b[0].Data.pbBuffer, b[0].Data.ulBufferLength);
            if (moved == 0) {
                WebSocketCompleteAction(h, actx, 0);
                return -1;
            }
            break;
        case WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION:
            memcpy(got, b[0].Data.pbBuffer, b[0].Data.ulBufferLength);
            indicated = (long)b[0].Data.ulBufferLength;
            break;
        default:
            break;
        }
        WebSocketCompleteAction(h, actx, moved);
        if (indicated >= 0) return indicated;
    }
}

static void *pair(void *arg) {
    (void)arg;
    Pipe *up = calloc(1, sizeof *up), *down = calloc(1, sizeof *down);
    CHECK(up && down);
    WEB_SOCKET_HANDLE client, server;
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &client), S_OK);
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &server), S_OK);
    handshake(client, server);
    BYTE msg[1000], got[4096];
    for (int i = 0; i < MESSAGES; i++) {
        memset(msg, 'a' + i % 26, sizeof msg);
        WEB_SOCKET_BUFFER b;
        b.Data.pbBuffer = msg;
        b.Data.ulBufferLength = sizeof msg;
        CHECK_HR(WebSocketSend(client, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
        CHECK_HR(WebSocketReceive(server, NULL, NULL), S_OK);
        drive(client, up, down, got);
        CHECK(drive(server, down, up, got) == (long)sizeof msg && memcmp(got, msg, sizeof msg) == 0);
        drive(client, up, down, got); /* the send's completion */
    }
    WebSocketDeleteHandle(client);
    WebSocketDeleteHandle(server);
    free(up);
    free(down);
    return NULL;
}

static void *churn(void *arg) {
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        WEB_SOCKET_HANDLE h;
        CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &h), S_OK);
        WebSocketDeleteHandle(h);
        CHECK_HR(WebSocketReceive(h, NULL, NULL), E_INVALIDARG);
    }
    return NULL;
}

int main(void) {
    pthread_t t[PAIRS + 1];
    for (int i = 0; i < PAIRS; i++) CHECK(pthread_create(&t[i], NULL, pair, NULL) == 0);
    CHECK(pthread_create(&t[PAIRS], NULL, churn, NULL) == 0);
    for (int i = 0; i <= PAIRS; i++) CHECK(pthread_join(t[i], NULL) == 0);
    printf("threads: ok (%d pairs x %d messages, handles made and deleted alongside)\n", PAIRS, MESSAGES);
    return 0;
}
