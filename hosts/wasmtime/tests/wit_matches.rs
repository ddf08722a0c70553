//! The component's exported interface is wit/'s `engine`, name for name: every function
//! (with its parameter names) and every named type, nothing missing and nothing extra.
//! `bindgen!`'s check at load time covers the types of what the host calls; this covers
//! the rest of the binary's interface.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

const INTERFACE: &str = "wsengine:websocket/engine@0.1.0";

/// Names of wit/'s `engine` interface: types as `type NAME`, functions as
/// `func NAME(PARAM, ...)`, with the component model's names for resource functions.
fn from_wit() -> BTreeSet<String> {
    let mut resolve = wit_parser::Resolve::default();
    resolve.push_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit")).expect("wit/ parses");
    let (_, iface) = resolve
        .interfaces
        .iter()
        .find(|(_, i)| i.name.as_deref() == Some("engine"))
        .expect("wit/ has an engine interface");
    let mut names: BTreeSet<String> = iface.types.keys().map(|t| format!("type {t}")).collect();
    for f in iface.functions.values() {
        let params: Vec<&str> = f.params.iter().map(|p| p.name.as_str()).collect();
        names.insert(format!("func {}({})", f.name, params.join(", ")));
    }
    names
}

/// The same names, read from the component binary.
fn from_component() -> BTreeSet<String> {
    let engine = Engine::default();
    let component = Component::from_file(&engine, common::component_path()).expect("the component loads");
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(&engine).map(|(name, _)| name.to_owned()).collect();
    assert!(imports.is_empty(), "the component imports {imports:?}");
    let exports: Vec<(String, ComponentItem)> = ty.exports(&engine).map(|(n, e)| (n.to_owned(), e.ty)).collect();
    assert_eq!(exports.len(), 1, "the component exports one interface");
    let ComponentItem::ComponentInstance(instance) = &exports[0].1 else {
        panic!("{} is not an instance", exports[0].0)
    };
    assert_eq!(exports[0].0, INTERFACE);
    instance
        .exports(&engine)
        .map(|(name, item)| match item.ty {
            ComponentItem::ComponentFunc(f) => {
                // The method receiver is `self` in the binary and implicit in WIT.
                let params: Vec<&str> = f.params().map(|(p, _)| p).collect();
                format!("func {name}({})", params.join(", "))
            }
            _ => format!("type {name}"),
        })
        .collect()
}

#[test]
fn the_component_exports_exactly_the_wit_interface() {
    let (wit, binary) = (from_wit(), from_component());
    let missing: Vec<_> = wit.difference(&binary).collect();
    let extra: Vec<_> = binary.difference(&wit).collect();
    assert!(missing.is_empty() && extra.is_empty(), "missing from the binary: {missing:#?}\nnot in wit/: {extra:#?}");
    assert!(wit.contains("func [method]handle.step(self, done, then, queue)"), "{wit:#?}");
    // The connection: one call per transport read, one per batch of sends.
    for f in [
        "func [static]connection.client(now, options, url)",
        "func [method]connection.read(self, input, now)",
        "func [method]connection.read-echo(self, input, now)",
        "func [method]connection.send(self, batch, now)",
        "func [method]connection.handle-timeout(self, now)",
        "func default-options()",
    ] {
        assert!(wit.contains(f), "{f} missing: {wit:#?}");
    }
}
