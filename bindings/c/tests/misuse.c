/*
 * The misuse matrix from C: every call with bad arguments, bad handles or in the wrong
 * state returns the documented HRESULT (the reference's §4 and §12), and nothing aborts.
 */
#include "common.h"

static WEB_SOCKET_HANDLE open_pair(WEB_SOCKET_HANDLE *server_out) {
    WEB_SOCKET_HANDLE client, server;
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &client), S_OK);
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &server), S_OK);
    handshake(client, server);
    *server_out = server;
    return client;
}

static void create_rejects_bad_properties(void) {
    WEB_SOCKET_HANDLE h = (WEB_SOCKET_HANDLE)0x1;
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, NULL), E_POINTER);
    CHECK_HR(WebSocketCreateClientHandle(NULL, 1, &h), E_INVALIDARG);
    CHECK(h == NULL);
    ULONG small = 100, ok = 4096, keepalive = 30000;
    USHORT two = 4096;
    WEB_SOCKET_PROPERTY p;
    p.Type = WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE;
    p.pvValue = &small;
    p.ulValueSize = sizeof small;
    CHECK_HR(WebSocketCreateClientHandle(&p, 1, &h), E_INVALIDARG); /* below 256 */
    p.pvValue = &two;
    p.ulValueSize = sizeof two;
    CHECK_HR(WebSocketCreateServerHandle(&p, 1, &h), E_INVALIDARG); /* not 4 bytes */
    p.pvValue = NULL;
    p.ulValueSize = 4;
    CHECK_HR(WebSocketCreateServerHandle(&p, 1, &h), E_INVALIDARG); /* no value */
    p.Type = WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE;           /* global only */
    p.pvValue = &keepalive;
    CHECK_HR(WebSocketCreateClientHandle(&p, 1, &h), E_INVALIDARG);
    p.Type = (WEB_SOCKET_PROPERTY_TYPE)99;
    CHECK_HR(WebSocketCreateClientHandle(&p, 1, &h), E_INVALIDARG);
    CHECK(h == NULL);
    /* A good one, and an allocated buffer too small for it. */
    p.Type = WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE;
    p.pvValue = &ok;
    CHECK_HR(WebSocketCreateClientHandle(&p, 1, &h), S_OK);
    WebSocketDeleteHandle(h);
    static BYTE area[4096 + 4096 + 144];
    PVOID slot = area;
    WEB_SOCKET_PROPERTY alloc[1];
    alloc[0].Type = WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE;
    alloc[0].pvValue = &slot;
    alloc[0].ulValueSize = sizeof area;
    CHECK_HR(WebSocketCreateClientHandle(alloc, 1, &h), S_OK);
    WebSocketDeleteHandle(h);
    alloc[0].ulValueSize = sizeof area - 1;
    CHECK_HR(WebSocketCreateClientHandle(alloc, 1, &h), E_INVALIDARG);
}

static void bad_handles_are_refused(void) {
    WEB_SOCKET_HANDLE gone;
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &gone), S_OK);
    WebSocketDeleteHandle(gone);
    WEB_SOCKET_HANDLE bad[] = {NULL, gone, (WEB_SOCKET_HANDLE)(~(size_t)0)};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        WEB_SOCKET_HANDLE h = bad[i];
        PWEB_SOCKET_HTTP_HEADER out;
        ULONG n, count = 2;
        WEB_SOCKET_BUFFER buffers[2];
        WEB_SOCKET_ACTION action;
        WEB_SOCKET_BUFFER_TYPE type;
        PVOID actx;
        CHECK_HR(WebSocketBeginClientHandshake(h, NULL, 0, NULL, 0, NULL, 0, &out, &n), E_INVALIDARG);
        CHECK_HR(WebSocketEndClientHandshake(h, NULL, 0, NULL, NULL, NULL), E_INVALIDARG);
        CHECK_HR(WebSocketBeginServerHandshake(h, NULL, NULL, 0, NULL, 0, &out, &n), E_INVALIDARG);
        CHECK_HR(WebSocketEndServerHandshake(h), E_INVALIDARG);
        CHECK_HR(WebSocketSend(h, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, NULL), E_INVALIDARG);
        CHECK_HR(WebSocketReceive(h, NULL, NULL), E_INVALIDARG);
        CHECK_HR(WebSocketGetAction(h, WEB_SOCKET_ALL_ACTION_QUEUE, buffers, &count, &action, &type, NULL, &actx), E_INVALIDARG);
        WebSocketCompleteAction(h, NULL, 0);
        WebSocketAbortHandle(h);
        WebSocketDeleteHandle(h);
    }
}

static void wrong_state_and_role(void) {
    WEB_SOCKET_HANDLE client, server;
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &client), S_OK);
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &server), S_OK);
    PWEB_SOCKET_HTTP_HEADER out;
    ULONG n;
    /* Session calls before the handshake, End without Begin, the other role's Begin. */
    CHECK_HR(WebSocketSend(client, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, NULL), WSENGINE_E_INVALID_STATE);
    CHECK_HR(WebSocketReceive(server, NULL, NULL), WSENGINE_E_INVALID_STATE);
    CHECK_HR(WebSocketEndClientHandshake(client, NULL, 0, NULL, NULL, NULL), WSENGINE_E_INVALID_STATE);
    CHECK_HR(WebSocketEndServerHandshake(server), WSENGINE_E_INVALID_STATE);
    CHECK_HR(WebSocketBeginServerHandshake(client, NULL, NULL, 0, NULL, 0, &out, &n), WSENGINE_E_INVALID_STATE);
    CHECK_HR(WebSocketBeginClientHandshake(server, NULL, 0, NULL, 0, NULL, 0, &out, &n), WSENGINE_E_INVALID_STATE);
    /* NULL out-parameters. */
    CHECK_HR(WebSocketBeginClientHandshake(client, NULL, 0, NULL, 0, NULL, 0, NULL, &n), E_POINTER);
    CHECK_HR(WebSocketBeginClientHandshake(client, NULL, 0, NULL, 0, NULL, 0, &out, NULL), E_POINTER);
    /* A subprotocol that is no token; a NULL entry in the list. */
    PCSTR bad_token[] = {"chat v2"};
    PCSTR null_entry[] = {NULL};
    CHECK_HR(WebSocketBeginClientHandshake(client, bad_token, 1, NULL, 0, NULL, 0, &out, &n), E_INVALIDARG);
    CHECK_HR(WebSocketBeginClientHandshake(client, null_entry, 1, NULL, 0, NULL, 0, &out, &n), E_INVALIDARG);
    CHECK_HR(WebSocketBeginClientHandshake(client, NULL, 2, NULL, 0, NULL, 0, &out, &n), E_INVALIDARG);
    WebSocketDeleteHandle(client);
    WebSocketDeleteHandle(server);
}

static void handshake_failures(void) {
    WEB_SOCKET_HANDLE client, server;
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &client), S_OK);
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &server), S_OK);
    PCSTR protocols[] = {"chat.v1", "chat.v2"};
    PCSTR extensions[] = {"x-one", "x-two"};
    PWEB_SOCKET_HTTP_HEADER req, resp;
    ULONG nreq, nresp;
    CHECK_HR(WebSocketBeginClientHandshake(client, protocols, 2, extensions, 2, NULL, 0, &req, &nreq), S_OK);
    /* The server picks one the client never offered, and no extension. */
    WEB_SOCKET_HTTP_HEADER request[16];
    CHECK_HR(WebSocketBeginServerHandshake(server, "chat.v3", NULL, 0, request, with_host(request, 16, req, nreq), &resp, &nresp), S_OK);
    ULONG selected[2], capacity = 1, chosen = 77;
    CHECK_HR(WebSocketEndClientHandshake(client, resp, nresp, selected, &capacity, &chosen), E_INVALIDARG); /* < 2 offered */
    capacity = 2;
    CHECK_HR(WebSocketEndClientHandshake(client, resp, nresp, selected, &capacity, &chosen), E_SUBPROTOCOL_NOT_SUPPORTED);
    CHECK(chosen == 77);
    WebSocketDeleteHandle(client);
    WebSocketDeleteHandle(server);

    /* A request without a key; one for another version. */
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &server), S_OK);
    char upgrade[] = "Upgrade", websocket[] = "websocket", connection[] = "Connection", version[] = "Sec-WebSocket-Version",
         v8[] = "8", host[] = "Host", here[] = "here";
    WEB_SOCKET_HTTP_HEADER no_key[] = {{host, 4, here, 4}, {upgrade, 7, websocket, 9}, {connection, 10, upgrade, 7}};
    CHECK_HR(WebSocketBeginServerHandshake(server, NULL, NULL, 0, no_key, 3, &resp, &nresp), E_INVALID_PROTOCOL_FORMAT);
    WebSocketDeleteHandle(server);
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &server), S_OK);
    char key[] = "Sec-WebSocket-Key", key_value[] = "dGhlIHNhbXBsZSBub25jZQ==";
    WEB_SOCKET_HTTP_HEADER old[] = {{host, 4, here, 4}, {upgrade, 7, websocket, 9}, {connection, 10, upgrade, 7},
                                    {key, 17, key_value, 24}, {version, 21, v8, 1}};
    CHECK_HR(WebSocketBeginServerHandshake(server, NULL, NULL, 0, old, 5, &resp, &nresp), E_PROTOCOL_VERSION_NOT_SUPPORTED);
    /* A header pointer that is NULL with a length. */
    WEB_SOCKET_HTTP_HEADER null_name[] = {{NULL, 4, here, 4}};
    CHECK_HR(WebSocketBeginServerHandshake(server, NULL, NULL, 0, null_name, 1, &resp, &nresp), E_INVALIDARG);
    WebSocketDeleteHandle(server);
}

static void send_receive_and_actions(void) {
    WEB_SOCKET_HANDLE server;
    WEB_SOCKET_HANDLE client = open_pair(&server);
    WEB_SOCKET_BUFFER b;
    static BYTE data[200];
    memset(data, 'a', sizeof data);
    CHECK_HR(WebSocketSend(client, (WEB_SOCKET_BUFFER_TYPE)0x12345, NULL, NULL), E_INVALIDARG);
    CHECK_HR(WebSocketSend(client, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, NULL, NULL), E_INVALIDARG);
    b.Data.pbBuffer = NULL;
    b.Data.ulBufferLength = 3;
    CHECK_HR(WebSocketSend(client, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL), E_INVALIDARG);
    b.Data.pbBuffer = data;
    CHECK_HR(WebSocketSend(client, WEB_SOCKET_PING_PONG_BUFFER_TYPE, &b, NULL), E_INVALIDARG);
    b.CloseStatus.pbReason = data;
    b.CloseStatus.ulReasonLength = 124;
    b.CloseStatus.usStatus = 1000;
    CHECK_HR(WebSocketSend(client, WEB_SOCKET_CLOSE_BUFFER_TYPE, &b, NULL), E_INVALIDARG);
    b.CloseStatus.ulReasonLength = 0;
    b.CloseStatus.usStatus = 1005;
    CHECK_HR(WebSocketSend(client, WEB_SOCKET_CLOSE_BUFFER_TYPE, &b, NULL), E_INVALID_PROTOCOL_FORMAT);
    /* Text that is not UTF-8. */
    static BYTE bad_utf8[] = {0xC3, 0x28};
    b.Data.pbBuffer = bad_utf8;
    b.Data.ulBufferLength = 2;
    CHECK(FAILED(WebSocketSend(client, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b, NULL)));
    /* One send and one receive outstanding at most. */
    b.Data.pbBuffer = data;
    b.Data.ulBufferLength = sizeof data;
    CHECK_HR(WebSocketSend(client, WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE, &b, NULL), S_OK);
    CHECK_HR(WebSocketSend(client, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL), E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketReceive(client, NULL, NULL), S_OK);
    CHECK_HR(WebSocketReceive(client, NULL, NULL), E_INVALID_PROTOCOL_OPERATION);
    WEB_SOCKET_BUFFER small;
    small.Data.pbBuffer = NULL;
    small.Data.ulBufferLength = 10;
    CHECK_HR(WebSocketReceive(server, &small, NULL), E_INVALIDARG);

    /* WebSocketGetAction's arguments. */
    WEB_SOCKET_BUFFER buffers[2];
    ULONG count = 0;
    WEB_SOCKET_ACTION action = WEB_SOCKET_NO_ACTION;
    WEB_SOCKET_BUFFER_TYPE type;
    PVOID actx;
    CHECK_HR(WebSocketGetAction(client, WEB_SOCKET_SEND_ACTION_QUEUE, buffers, &count, &action, &type, NULL, &actx), E_INVALIDARG);
    count = 2;
    CHECK_HR(WebSocketGetAction(client, WEB_SOCKET_SEND_ACTION_QUEUE, NULL, &count, &action, &type, NULL, &actx), E_INVALIDARG);
    CHECK_HR(WebSocketGetAction(client, WEB_SOCKET_SEND_ACTION_QUEUE, buffers, NULL, &action, &type, NULL, &actx), E_POINTER);
    CHECK_HR(WebSocketGetAction(client, WEB_SOCKET_SEND_ACTION_QUEUE, buffers, &count, NULL, &type, NULL, &actx), E_POINTER);
    CHECK_HR(WebSocketGetAction(client, WEB_SOCKET_SEND_ACTION_QUEUE, buffers, &count, &action, &type, NULL, NULL), E_POINTER);
    CHECK_HR(WebSocketGetAction(client, (WEB_SOCKET_ACTION_QUEUE)0, buffers, &count, &action, &type, NULL, &actx), E_INVALIDARG);
    CHECK_HR(WebSocketGetAction(client, (WEB_SOCKET_ACTION_QUEUE)4, buffers, &count, &action, &type, NULL, &actx), E_INVALIDARG);
    /* One buffer asked for: the frame's header and payload come joined. */
    count = 1;
    CHECK_HR(WebSocketGetAction(client, WEB_SOCKET_SEND_ACTION_QUEUE, buffers, &count, &action, &type, NULL, &actx), S_OK);
    CHECK(action == WEB_SOCKET_SEND_TO_NETWORK_ACTION && count == 1);
    CHECK(buffers[0].Data.ulBufferLength == 2 + 2 + 4 + sizeof data); /* 16-bit length, mask key */
    /* A server's frame is its header and the caller's payload in place: asked for one
     * buffer, the two come copied together. */
    CHECK_HR(WebSocketSend(server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
    count = 2;
    CHECK_HR(WebSocketGetAction(server, WEB_SOCKET_SEND_ACTION_QUEUE, buffers, &count, &action, &type, NULL, &actx), S_OK);
    CHECK(action == WEB_SOCKET_SEND_TO_NETWORK_ACTION && count == 2 && buffers[1].Data.pbBuffer == data);
    WebSocketCompleteAction(server, actx, 0); /* short: cancels the send */
    count = 2;
    CHECK_HR(WebSocketGetAction(server, WEB_SOCKET_SEND_ACTION_QUEUE, buffers, &count, &action, &type, NULL, &actx), S_OK);
    CHECK(action == WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION && count == 0);
    WebSocketCompleteAction(server, actx, 0);
    CHECK(FAILED(WebSocketSend(server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL))); /* the send side broke */

    /* A made-up token, a count larger than the action's: no crash. */
    WebSocketCompleteAction(client, (PVOID)0x7777, 5);
    WebSocketCompleteAction(client, actx, buffers[0].Data.ulBufferLength);
    WebSocketCompleteAction(client, actx, 0); /* twice: ignored */
    WebSocketCompleteAction(client, NULL, 0); /* NO_ACTION's: a no-op */

    /* After an abort: queued work drains as completions, new work fails. */
    WebSocketAbortHandle(client);
    CHECK(FAILED(WebSocketSend(client, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, NULL)));
    for (int i = 0; i < 8; i++) {
        count = 2;
        CHECK_HR(WebSocketGetAction(client, WEB_SOCKET_ALL_ACTION_QUEUE, buffers, &count, &action, &type, NULL, &actx), S_OK);
        WebSocketCompleteAction(client, actx, 0);
        if (action == WEB_SOCKET_NO_ACTION) break;
        CHECK(action == WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION || action == WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION);
    }
    CHECK(action == WEB_SOCKET_NO_ACTION);
    WebSocketDeleteHandle(client);
    WebSocketDeleteHandle(server);
}

static void one_buffer_asked_for(void) {
    WEB_SOCKET_HANDLE server;
    WEB_SOCKET_HANDLE client = open_pair(&server);
    static BYTE data[200];
    memset(data, 'z', sizeof data);
    WEB_SOCKET_BUFFER b, buffers[1];
    b.Data.pbBuffer = data;
    b.Data.ulBufferLength = sizeof data;
    CHECK_HR(WebSocketSend(server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
    ULONG count = 1;
    WEB_SOCKET_ACTION action;
    WEB_SOCKET_BUFFER_TYPE type;
    PVOID actx;
    CHECK_HR(WebSocketGetAction(server, WEB_SOCKET_SEND_ACTION_QUEUE, buffers, &count, &action, &type, NULL, &actx), S_OK);
    CHECK(action == WEB_SOCKET_SEND_TO_NETWORK_ACTION && count == 1);
    CHECK(buffers[0].Data.ulBufferLength == 4 + sizeof data && buffers[0].Data.pbBuffer[0] == 0x82);
    CHECK(memcmp(buffers[0].Data.pbBuffer + 4, data, sizeof data) == 0);
    WebSocketCompleteAction(server, actx, buffers[0].Data.ulBufferLength);
    WebSocketDeleteHandle(client);
    WebSocketDeleteHandle(server);
}

/* The header's buffer types are the engine's: an unsolicited pong goes out as one. */
static void unsolicited_pong_type(void) {
    WEB_SOCKET_HANDLE server;
    WEB_SOCKET_HANDLE client = open_pair(&server);
    WEB_SOCKET_BUFFER b[2];
    ULONG count = 2;
    WEB_SOCKET_ACTION action;
    WEB_SOCKET_BUFFER_TYPE type;
    PVOID actx;
    CHECK_HR(WebSocketSend(server, WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE, NULL, NULL), S_OK);
    CHECK_HR(WebSocketGetAction(server, WEB_SOCKET_SEND_ACTION_QUEUE, b, &count, &action, &type, NULL, &actx), S_OK);
    CHECK(action == WEB_SOCKET_SEND_TO_NETWORK_ACTION && type == WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE);
    CHECK(count >= 1 && b[0].Data.ulBufferLength == 2 && b[0].Data.pbBuffer[0] == 0x8A);
    WebSocketCompleteAction(server, actx, 2);
    count = 2;
    CHECK_HR(WebSocketGetAction(server, WEB_SOCKET_SEND_ACTION_QUEUE, b, &count, &action, &type, NULL, &actx), S_OK);
    CHECK(action == WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION && type == WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE);
    WebSocketCompleteAction(server, actx, 0);
    WebSocketDeleteHandle(client);
    WebSocketDeleteHandle(server);
}

static void global_properties(void) {
    ULONG value = 0, size = sizeof value;
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, &value, &size), S_OK);
    CHECK(value == 30000 && size == 4);
    size = sizeof value;
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE, &value, &size), S_OK);
    CHECK(value == 13 && size == 4);
    size = 2;
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, &value, &size), E_NOT_SUFFICIENT_BUFFER);
    CHECK(size == 4);
    size = 4;
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, NULL, &size), E_INVALIDARG);
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, &value, NULL), E_POINTER);
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &value, &size), E_INVALIDARG);
    CHECK_HR(WebSocketGetGlobalProperty((WEB_SOCKET_PROPERTY_TYPE)42, &value, &size), E_INVALIDARG);
}

int main(void) {
    create_rejects_bad_properties();
    bad_handles_are_refused();
    wrong_state_and_role();
    handshake_failures();
    send_receive_and_actions();
    one_buffer_asked_for();
    unsolicited_pong_type();
    global_properties();
    printf("misuse: ok\n");
    return 0;
}
