// websocket.h from C++17 (-Wall -Wextra -Werror): the declarations link, extern "C", and
// the layout checks hold in C++ too. Creates, drives and deletes a handle.
#include <cstdio>

#include "common.h"

int main() {
    WEB_SOCKET_HANDLE h = nullptr;
    CHECK_HR(WebSocketCreateServerHandle(nullptr, 0, &h), S_OK);
    ULONG version = 0, size = sizeof version;
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE, &version, &size), S_OK);
    CHECK(version == 13);
    CHECK_HR(WebSocketReceive(h, nullptr, nullptr), WSENGINE_E_INVALID_STATE);
    WebSocketAbortHandle(h);
    WebSocketDeleteHandle(h);
    std::printf("c++17: ok\n");
    return 0;
}
