# workerd running tests/workerd/worker.js with the npm package's modules. Outbound TCP goes
# through the "internet" service, which allows loopback ("local") for the test.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "internet", network = (allow = ["public", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8788", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "js/src/workerd.js", esModule = embed "../../js/src/workerd.js"),
    (name = "js/src/api.js", esModule = embed "../../js/src/api.js"),
    (name = "js/src/constants.js", esModule = embed "../../js/src/constants.js"),
    (name = "js/src/driver.js", esModule = embed "../../js/src/driver.js"),
    (name = "js/src/errors.js", esModule = embed "../../js/src/errors.js"),
    (name = "js/src/inspect.js", esModule = embed "../../js/src/inspect.js"),
    (name = "js/src/layout.js", esModule = embed "../../js/src/layout.js"),
    (name = "js/src/memory.js", esModule = embed "../../js/src/memory.js"),
    (name = "js/src/transport.js", esModule = embed "../../js/src/transport.js"),
    (name = "js/src/websocket.js", esModule = embed "../../js/src/websocket.js"),
    (name = "js/wasm/wsengine.js", esModule = embed "../../js/wasm/wsengine.js"),
    (name = "js/wasm/wsengine_bg.wasm", wasm = embed "../../js/wasm/wsengine_bg.wasm"),
  ],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["nodejs_compat"],
  globalOutbound = "internet",
);
