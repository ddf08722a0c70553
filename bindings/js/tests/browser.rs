//! The bindings in headless Chromium.

#[macro_use]
mod common;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

wasm_tests!(
    text_goes_across_through_views,
    errors_are_js_errors_with_the_hresult,
    helpers,
    fused_steps_send_and_stop_at_the_failing_part,
    connections_talk_in_batches,
    connection_errors_are_web_socket_errors,
);
