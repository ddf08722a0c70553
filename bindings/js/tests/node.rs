//! The bindings in Node (wasm-bindgen-test's default).

#[macro_use]
mod common;

wasm_tests!(
    text_goes_across_through_views,
    errors_are_js_errors_with_the_hresult,
    helpers,
    fused_steps_send_and_stop_at_the_failing_part,
    connections_talk_in_batches,
    connection_errors_are_web_socket_errors,
);
