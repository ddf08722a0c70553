/*
 * A C client on libwsengine that talks to examples/echo_server over TCP with plain
 * sockets: the upgrade request and response written and parsed here, then messages of
 * 0 B to 1 MiB (text and binary), a message sent in fragments, a ping, and the closing
 * handshake, all through WebSocketGetAction / WebSocketCompleteAction.
 *
 *   echo_client PORT
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

static int fd;
/* Bytes read past the response head, handed to the engine first. */
static char head[8192];
static size_t left_at, left_len;

static void write_all(const BYTE *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        CHECK(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* What a pump waits for, and what it got. */
typedef struct {
    int send_done;
    int received;
    WEB_SOCKET_BUFFER_TYPE type;
    BYTE *data;
    ULONG len;
    USHORT status;
} Got;

/* Runs actions until a send completes (want_send) or a receive is indicated. */
static void pump(WEB_SOCKET_HANDLE h, int want_send, Got *got) {
    got->send_done = 0;
    got->received = 0;
    while (want_send ? !got->send_done : !got->received) {
        WEB_SOCKET_BUFFER b[2];
        ULONG count = 2, moved = 0;
        WEB_SOCKET_ACTION action;
        WEB_SOCKET_BUFFER_TYPE type;
        PVOID actx;
        CHECK_HR(WebSocketGetAction(h, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, NULL, &actx), S_OK);
        switch (action) {
        case WEB_SOCKET_NO_ACTION:
            fprintf(stderr, "nothing to do while waiting\n");
            exit(1);
        case WEB_SOCKET_SEND_TO_NETWORK_ACTION:
            for (ULONG i = 0; i < count; i++) {
                write_all(b[i].Data.pbBuffer, b[i].Data.ulBufferLength);
                moved += b[i].Data.ulBufferLength;
            }
            break;
        case WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION:
            got->send_done = 1;
            break;
        case WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION:
            if (left_len > 0) {
                moved = left_len < b[0].Data.ulBufferLength ? (ULONG)left_len : b[0].Data.ulBufferLength;
                memcpy(b[0].Data.pbBuffer, head + left_at, moved);
                left_at += moved;
                left_len -= moved;
            } else {
                ssize_t r = read(fd, b[0].Data.pbBuffer, b[0].Data.ulBufferLength);
                CHECK(r > 0);
                moved = (ULONG)r;
            }
            break;
        case WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION:
            got->received = 1;
            got->type = type;
            if (type == WEB_SOCKET_CLOSE_BUFFER_TYPE) {
                got->status = b[0].CloseStatus.usStatus;
                memcpy(got->data, b[0].CloseStatus.pbReason, b[0].CloseStatus.ulReasonLength);
                got->len = b[0].CloseStatus.ulReasonLength;
            } else {
                if (b[0].Data.ulBufferLength) memcpy(got->data + got->len, b[0].Data.pbBuffer, b[0].Data.ulBufferLength);
                got->len += b[0].Data.ulBufferLength;
            }
            break;
        }
        WebSocketCompleteAction(h, actx, moved);
    }
}

/* Receives one whole message (its pieces) into got->data. */
static void receive_message(WEB_SOCKET_HANDLE h, Got *got) {
    got->len = 0;
    do {
        CHECK_HR(WebSocketReceive(h, NULL, NULL), S_OK);
        pump(h, 0, got);
    } while (got->type == WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE || got->type == WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE);
}

static void send_buffer(WEB_SOCKET_HANDLE h, WEB_SOCKET_BUFFER_TYPE type, BYTE *p, ULONG n, Got *got) {
    WEB_SOCKET_BUFFER b;
    b.Data.pbBuffer = p;
    b.Data.ulBufferLength = n;
    CHECK_HR(WebSocketSend(h, type, &b, NULL), S_OK);
    pump(h, 1, got);
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    int port = atoi(argv[1]);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0);

    WEB_SOCKET_HANDLE h;
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &h), S_OK);
    PWEB_SOCKET_HTTP_HEADER extra;
    ULONG nextra;
    CHECK_HR(WebSocketBeginClientHandshake(h, NULL, 0, NULL, 0, NULL, 0, &extra, &nextra), S_OK);
    char request[2048];
    int n = snprintf(request, sizeof request, "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", port);
    for (ULONG i = 0; i < nextra; i++) {
        n += snprintf(request + n, sizeof request - (size_t)n, "%.*s: %.*s\r\n", (int)extra[i].ulNameLength, extra[i].pcName,
                      (int)extra[i].ulValueLength, extra[i].pcValue);
    }
    n += snprintf(request + n, sizeof request - (size_t)n, "\r\n");
    write_all((BYTE *)request, (size_t)n);

    /* The response head: the status line is checked here (the engine never sees it),
     * the header lines go to WebSocketEndClientHandshake. */
    size_t have = 0;
    char *end = NULL;
    while (!end) {
        CHECK(have < sizeof head - 1);
        ssize_t r = read(fd, head + have, sizeof head - 1 - have);
        CHECK(r > 0);
        have += (size_t)r;
        head[have] = 0;
        end = strstr(head, "\r\n\r\n");
    }
    CHECK(strncmp(head, "HTTP/1.1 101", 12) == 0);
    left_at = (size_t)(end + 4 - head);
    left_len = have - left_at;
    WEB_SOCKET_HTTP_HEADER response[32];
    ULONG nresponse = 0;
    for (char *line = strstr(head, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
        char *colon = memchr(line, ':', (size_t)(strstr(line, "\r\n") - line));
        CHECK(colon && nresponse < 32);
        char *value = colon + 1;
        while (*value == ' ') value++;
        response[nresponse].pcName = line;
        response[nresponse].ulNameLength = (ULONG)(colon - line);
        response[nresponse].pcValue = value;
        response[nresponse].ulValueLength = (ULONG)(strstr(line, "\r\n") - value);
        nresponse++;
    }
    CHECK_HR(WebSocketEndClientHandshake(h, response, nresponse, NULL, NULL, NULL), S_OK);

    static BYTE out[1 << 20], in[(1 << 20) + 16];
    Got got;
    got.data = in;
    ULONG sizes[] = {0, 1, 125, 126, 127, 4095, 4096, 65535, 65536, 65537, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        ULONG size = sizes[i];
        for (ULONG j = 0; j < size; j++) out[j] = (BYTE)(j * 31 + i);
        send_buffer(h, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, out, size, &got);
        receive_message(h, &got);
        CHECK(got.type == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE && got.len == size && memcmp(in, out, size) == 0);
        for (ULONG j = 0; j < size; j++) out[j] = (BYTE)('a' + j % 26);
        send_buffer(h, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, out, size, &got);
        receive_message(h, &got);
        CHECK(got.type == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE && got.len == size && memcmp(in, out, size) == 0);
        printf("echoed %lu bytes, binary and text\n", (unsigned long)size);
    }

    /* One message in three fragments. */
    memcpy(out, "one-two-three", 13);
    send_buffer(h, WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE, out, 4, &got);
    send_buffer(h, WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE, out + 4, 4, &got);
    send_buffer(h, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, out + 8, 5, &got);
    receive_message(h, &got);
    CHECK(got.len == 13 && memcmp(in, "one-two-three", 13) == 0);
    printf("echoed a message sent in 3 fragments\n");

    /* A ping: its pong completes a receive as PING_PONG. */
    CHECK_HR(WebSocketSend(h, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, NULL), S_OK);
    pump(h, 1, &got);
    got.len = 0;
    CHECK_HR(WebSocketReceive(h, NULL, NULL), S_OK);
    pump(h, 0, &got);
    CHECK(got.type == WEB_SOCKET_PING_PONG_BUFFER_TYPE && got.len == 0);
    printf("ping answered\n");

    /* The closing handshake. */
    WEB_SOCKET_BUFFER bye;
    static BYTE reason[] = "done";
    bye.CloseStatus.pbReason = reason;
    bye.CloseStatus.ulReasonLength = 4;
    bye.CloseStatus.usStatus = WEB_SOCKET_SUCCESS_CLOSE_STATUS;
    CHECK_HR(WebSocketSend(h, WEB_SOCKET_CLOSE_BUFFER_TYPE, &bye, NULL), S_OK);
    pump(h, 1, &got);
    got.len = 0;
    CHECK_HR(WebSocketReceive(h, NULL, NULL), S_OK);
    pump(h, 0, &got);
    CHECK(got.type == WEB_SOCKET_CLOSE_BUFFER_TYPE && got.status == 1000);
    printf("closed: %u \"%.*s\"\n", got.status, (int)got.len, (char *)in);
    WebSocketDeleteHandle(h);
    close(fd);
    return 0;
}
