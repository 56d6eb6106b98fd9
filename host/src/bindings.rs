//! Host-side bindings for the `policy` world, generated from `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "policy",
});
