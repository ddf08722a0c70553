/*
 * What the Windows SDK's WebSocket sample does, on libwsengine: a client handle and a
 * server handle in one process, the handshake headers passed between them, then messages
 * driven by the documented WebSocketGetAction / WebSocketCompleteAction loop over an
 * in-memory transport, every action completed (NO_ACTION too). Prints what it moved.
 */
#include "common.h"

static Pipe to_server, to_client;

static void print_headers(const char *who, const WEB_SOCKET_HTTP_HEADER *h, ULONG n) {
    for (ULONG i = 0; i < n; i++) {
        printf("%s header: %.*s: %.*s\n", who, (int)h[i].ulNameLength, h[i].pcName, (int)h[i].ulValueLength, h[i].pcValue);
    }
}

/* Handles created with an ALLOCATED_BUFFER: every buffer an action returns must lie in
 * it, except a send's own payload (.NET checks exactly this). */
static struct {
    WEB_SOCKET_HANDLE handle;
    BYTE *area;
    ULONG len;
} lent[2];
static const BYTE *payload;
static ULONG payload_len;

static void check_inside(WEB_SOCKET_HANDLE h, const WEB_SOCKET_BUFFER *b, ULONG count) {
    for (int i = 0; i < 2; i++) {
        if (lent[i].handle != h) continue;
        for (ULONG j = 0; j < count; j++) {
            const BYTE *p = b[j].Data.pbBuffer;
            ULONG n = b[j].Data.ulBufferLength;
            if (p == NULL || (p >= payload && p + n <= payload + payload_len)) continue;
            CHECK(p >= lent[i].area && p + n <= lent[i].area + lent[i].len);
        }
    }
}

/* The sample's RunLoop: actions of every queue until NO_ACTION; `out` is the pipe this
 * side writes, `in` the one it reads. Returns the last indicated receive's type, and
 * copies its data into `got`. */
static WEB_SOCKET_BUFFER_TYPE run_loop(const char *who, WEB_SOCKET_HANDLE h, Pipe *out, Pipe *in, char *got, ULONG *got_len,
                                       USHORT *close_status) {
    WEB_SOCKET_BUFFER_TYPE last = (WEB_SOCKET_BUFFER_TYPE)0;
    for (;;) {
        WEB_SOCKET_BUFFER buffers[2];
        ULONG count = 2;
        WEB_SOCKET_ACTION action;
        WEB_SOCKET_BUFFER_TYPE type;
        PVOID app = NULL;
        PVOID actx = NULL;
        HRESULT hr = WebSocketGetAction(h, WEB_SOCKET_ALL_ACTION_QUEUE, buffers, &count, &action, &type, &app, &actx);
        if (FAILED(hr)) {
            printf("%s: WebSocketGetAction failed 0x%08X: aborting\n", who, (unsigned)hr);
            WebSocketAbortHandle(h);
            continue;
        }
        ULONG moved = 0;
        check_inside(h, buffers, action == WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION ? 0 : count);
        switch (action) {
        case WEB_SOCKET_NO_ACTION:
            break;
        case WEB_SOCKET_SEND_TO_NETWORK_ACTION:
            moved = pipe_write(out, buffers, count);
            printf("%s: sent %lu bytes in %lu buffers (type 0x%08X)\n", who, (unsigned long)moved, (unsigned long)count, (unsigned)type);
            break;
        case WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION:
            printf("%s: send complete (context %p)\n", who, app);
            break;
        case WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION:
            CHECK(count >= 1);
            moved = pipe_read(in, buffers[0].Data.pbBuffer, buffers[0].Data.ulBufferLength);
            if (moved == 0) {
                /* Nothing to read yet: stop here and come back after the peer ran. */
                WebSocketCompleteAction(h, actx, 0);
                return last;
            }
            printf("%s: received %lu bytes from the network\n", who, (unsigned long)moved);
            break;
        case WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION:
            CHECK(count == 1);
            last = type;
            if (type == WEB_SOCKET_CLOSE_BUFFER_TYPE) {
                *close_status = buffers[0].CloseStatus.usStatus;
                *got_len = buffers[0].CloseStatus.ulReasonLength;
                if (*got_len) memcpy(got, buffers[0].CloseStatus.pbReason, *got_len);
                printf("%s: close indicated: %u \"%.*s\"\n", who, *close_status, (int)*got_len, got);
            } else {
                memcpy(got + *got_len, buffers[0].Data.pbBuffer, buffers[0].Data.ulBufferLength);
                *got_len += buffers[0].Data.ulBufferLength;
                printf("%s: indicated %lu bytes (type 0x%08X, context %p)\n", who, (unsigned long)buffers[0].Data.ulBufferLength,
                       (unsigned)type, app);
            }
            break;
        }
        WebSocketCompleteAction(h, actx, moved);
        if (action == WEB_SOCKET_NO_ACTION) return last;
    }
}

int main(void) {
    WEB_SOCKET_HANDLE client = NULL, server = NULL;
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &client), S_OK);
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &server), S_OK);
    CHECK(client != NULL && server != NULL && client != server);

    /* The handshake: the client's headers, plus Host, are the server's request. */
    PWEB_SOCKET_HTTP_HEADER request = NULL, response = NULL;
    ULONG request_count = 0, response_count = 0;
    CHECK_HR(WebSocketBeginClientHandshake(client, NULL, 0, NULL, 0, NULL, 0, &request, &request_count), S_OK);
    print_headers("client", request, request_count);
    WEB_SOCKET_HTTP_HEADER all[16];
    ULONG all_count = with_host(all, 16, request, request_count);
    CHECK_HR(WebSocketBeginServerHandshake(server, NULL, NULL, 0, all, all_count, &response, &response_count), S_OK);
    print_headers("server", response, response_count);
    CHECK_HR(WebSocketEndClientHandshake(client, response, response_count, NULL, NULL, NULL), S_OK);
    CHECK_HR(WebSocketEndServerHandshake(server), S_OK);

    /* Client -> server: a text message, and a ping the server answers by itself. */
    static BYTE hello[] = "Hello World";
    WEB_SOCKET_BUFFER buf;
    buf.Data.pbBuffer = hello;
    buf.Data.ulBufferLength = (ULONG)strlen((char *)hello);
    CHECK_HR(WebSocketSend(client, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &buf, (PVOID)0x1234), S_OK);
    CHECK_HR(WebSocketSend(client, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &buf, NULL), E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketReceive(server, NULL, (PVOID)0x5678), S_OK);
    char got[4096];
    ULONG got_len = 0;
    USHORT status = 0;
    run_loop("client", client, &to_server, &to_client, got, &got_len, &status);
    CHECK(run_loop("server", server, &to_client, &to_server, got, &got_len, &status) == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
    CHECK(got_len == 11 && memcmp(got, "Hello World", 11) == 0);

    /* Server -> client: binary, from the server's memory in place. */
    static BYTE blob[70000];
    for (size_t i = 0; i < sizeof blob; i++) blob[i] = (BYTE)(i * 7);
    buf.Data.pbBuffer = blob;
    buf.Data.ulBufferLength = sizeof blob;
    CHECK_HR(WebSocketSend(server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &buf, NULL), S_OK);
    CHECK_HR(WebSocketReceive(client, NULL, NULL), S_OK);
    static char bin[sizeof blob];
    ULONG bin_len = 0;
    run_loop("server", server, &to_client, &to_server, got, &got_len, &status);
    for (int turn = 0; turn < 64 && bin_len < sizeof blob; turn++) {
        WEB_SOCKET_BUFFER_TYPE t = run_loop("client", client, &to_server, &to_client, bin, &bin_len, &status);
        if (t == WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE) CHECK_HR(WebSocketReceive(client, NULL, NULL), S_OK);
    }
    CHECK(bin_len == sizeof blob && memcmp(bin, blob, sizeof blob) == 0);

    /* The closing handshake: the client closes, the server answers. */
    static BYTE reason[] = "bye";
    buf.CloseStatus.pbReason = reason;
    buf.CloseStatus.ulReasonLength = 3;
    buf.CloseStatus.usStatus = WEB_SOCKET_SUCCESS_CLOSE_STATUS;
    CHECK_HR(WebSocketSend(client, WEB_SOCKET_CLOSE_BUFFER_TYPE, &buf, NULL), S_OK);
    CHECK_HR(WebSocketReceive(server, NULL, NULL), S_OK);
    run_loop("client", client, &to_server, &to_client, got, &got_len, &status);
    got_len = 0;
    CHECK(run_loop("server", server, &to_client, &to_server, got, &got_len, &status) == WEB_SOCKET_CLOSE_BUFFER_TYPE);
    CHECK(status == 1000 && got_len == 3 && memcmp(got, "bye", 3) == 0);
    CHECK_HR(WebSocketSend(server, WEB_SOCKET_CLOSE_BUFFER_TYPE, NULL, NULL), S_OK);
    CHECK_HR(WebSocketReceive(client, NULL, NULL), S_OK);
    run_loop("server", server, &to_client, &to_server, got, &got_len, &status);
    got_len = 0;
    CHECK(run_loop("client", client, &to_server, &to_client, got, &got_len, &status) == WEB_SOCKET_CLOSE_BUFFER_TYPE);
    CHECK(status == WEB_SOCKET_EMPTY_CLOSE_STATUS && got_len == 0);

    WebSocketDeleteHandle(client);
    WebSocketDeleteHandle(server);

    /* The selection outputs, and a receive into the caller's own buffer. */
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &client), S_OK);
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &server), S_OK);
    PCSTR protocols[] = {"chat.v1", "chat.v2"};
    PCSTR offers[] = {"x-one", "x-two"};
    CHECK_HR(WebSocketBeginClientHandshake(client, protocols, 2, offers, 2, NULL, 0, &request, &request_count), S_OK);
    all_count = with_host(all, 16, request, request_count);
    PCSTR chosen[] = {"x-two"};
    CHECK_HR(WebSocketBeginServerHandshake(server, "chat.v2", chosen, 1, all, all_count, &response, &response_count), S_OK);
    print_headers("server", response, response_count);
    ULONG selected[2] = {9, 9}, selected_count = 2, subprotocol = 9;
    CHECK_HR(WebSocketEndClientHandshake(client, response, response_count, selected, &selected_count, &subprotocol), S_OK);
    CHECK(subprotocol == 1 && selected_count == 1 && selected[0] == 1);
    printf("client: the server chose subprotocol %lu and extension %lu\n", (unsigned long)subprotocol, (unsigned long)selected[0]);
    static BYTE mine[300];
    buf.Data.pbBuffer = hello;
    buf.Data.ulBufferLength = 11;
    CHECK_HR(WebSocketSend(client, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &buf, NULL), S_OK);
    WEB_SOCKET_BUFFER into;
    into.Data.pbBuffer = mine;
    into.Data.ulBufferLength = sizeof mine;
    CHECK_HR(WebSocketReceive(server, &into, NULL), S_OK);
    run_loop("client", client, &to_server, &to_client, got, &got_len, &status);
    WEB_SOCKET_BUFFER b[2];
    ULONG n;
    WEB_SOCKET_ACTION action;
    WEB_SOCKET_BUFFER_TYPE type;
    PVOID actx;
    for (;;) {
        n = 2;
        CHECK_HR(WebSocketGetAction(server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, b, &n, &action, &type, NULL, &actx), S_OK);
        if (action != WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION) break;
        WebSocketCompleteAction(server, actx, pipe_read(&to_server, b[0].Data.pbBuffer, b[0].Data.ulBufferLength));
    }
    CHECK(action == WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION && type == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE);
    CHECK(n == 1 && b[0].Data.pbBuffer == mine && b[0].Data.ulBufferLength == 11 && memcmp(mine, "Hello World", 11) == 0);
    WebSocketCompleteAction(server, actx, 0);
    printf("server: received into its own buffer\n");
    WebSocketDeleteHandle(client);
    WebSocketDeleteHandle(server);

    /* As .NET creates its handles: buffer sizes and an ALLOCATED_BUFFER of RBS + SBS + 144
     * bytes, which every buffer the actions return must lie in. */
    static BYTE client_area[4096 + 4096 + 144], server_area[4096 + 16 + 144];
    PVOID client_slot = client_area, server_slot = server_area;
    ULONG rbs = 4096, client_sbs = 4096, server_sbs = 16;
    WEB_SOCKET_PROPERTY cp[3] = {{WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &rbs, 4},
                                 {WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, &client_sbs, 4},
                                 {WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, &client_slot, sizeof client_area}};
    WEB_SOCKET_PROPERTY sp[3] = {{WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &rbs, 4},
                                 {WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, &server_sbs, 4},
                                 {WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, &server_slot, sizeof server_area}};
    CHECK_HR(WebSocketCreateClientHandle(cp, 3, &client), S_OK);
    CHECK_HR(WebSocketCreateServerHandle(sp, 3, &server), S_OK);
    lent[0].handle = client;
    lent[0].area = client_area;
    lent[0].len = sizeof client_area;
    lent[1].handle = server;
    lent[1].area = server_area;
    lent[1].len = sizeof server_area;
    handshake(client, server);
    payload = blob;
    payload_len = 10000;
    buf.Data.pbBuffer = blob;
    buf.Data.ulBufferLength = 10000;
    CHECK_HR(WebSocketSend(client, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &buf, NULL), S_OK);
    bin_len = 0;
    run_loop("client", client, &to_server, &to_client, got, &got_len, &status);
    for (int turn = 0; turn < 16 && bin_len < 10000; turn++) {
        CHECK_HR(WebSocketReceive(server, NULL, NULL), S_OK);
        run_loop("server", server, &to_client, &to_server, bin, &bin_len, &status);
    }
    CHECK(bin_len == 10000 && memcmp(bin, blob, 10000) == 0);
    CHECK_HR(WebSocketSend(server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &buf, NULL), S_OK); /* zero copy */
    bin_len = 0;
    run_loop("server", server, &to_client, &to_server, got, &got_len, &status);
    for (int turn = 0; turn < 16 && bin_len < 10000; turn++) {
        CHECK_HR(WebSocketReceive(client, NULL, NULL), S_OK);
        run_loop("client", client, &to_server, &to_client, bin, &bin_len, &status);
    }
    CHECK(bin_len == 10000 && memcmp(bin, blob, 10000) == 0);
    printf("allocated buffers: every returned buffer lay inside them\n");
    WebSocketDeleteHandle(client);
    WebSocketDeleteHandle(server);
    printf("sample: ok\n");
    return 0;
}
