//! The bindings in headless Chromium.

mod common;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
fn text_goes_across_through_views() {
    common::text_goes_across_through_views();
}

#[wasm_bindgen_test]
fn errors_are_js_errors_with_the_hresult() {
    common::errors_are_js_errors_with_the_hresult();
}

#[wasm_bindgen_test]
fn helpers() {
    common::helpers();
}
