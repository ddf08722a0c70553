#!/usr/bin/env bash
# libwsengine from C and C++ (./dev test runs this after ./dev's build_c made target/c):
# every program built with the system compiler through pkg-config, as a user would, as C11
# and C++17 with -Wall -Wextra -Werror; run as built, against the static library, with
# AddressSanitizer and UndefinedBehaviorSanitizer, and under valgrind. echo_client talks
# to examples/echo_server on loopback; threads runs handles on several threads at once.
# The programs that need no socket or thread run on WASI too; last, a CMake project finds
# the library through pkg-config.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PKG_CONFIG_PATH="$PWD/target/c/lib/pkgconfig"
out=target/c-tests
mkdir -p "$out"
cflags=(-std=c11 -Wall -Wextra -Werror -g -pthread)
cxxflags=(-std=c++17 -Wall -Wextra -Werror -g)
read -ra pc_cflags <<<"$(pkg-config --cflags wsengine)"
read -ra pc_libs <<<"$(pkg-config --libs wsengine)"
read -ra pc_static <<<"$(pkg-config --libs-only-l --static wsengine | sed 's/-lwsengine//')"
libdir=$(pkg-config --variable=libdir wsengine)
san=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
target/release/examples/echo_server "127.0.0.1:$port" >/dev/null 2>&1 &
echo_pid=$!
trap 'kill $echo_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

run() {
  local name=$1; shift
  case $name in
    echo_client*) "$@" "$port" ;;
    *) "$@" ;;
  esac
}

for t in sample misuse echo_client threads; do
  cc "${cflags[@]}" "${pc_cflags[@]}" "bindings/c/tests/$t.c" "${pc_libs[@]}" -o "$out/$t"
  cc "${cflags[@]}" "${pc_cflags[@]}" "bindings/c/tests/$t.c" "$libdir/libwsengine.a" "${pc_static[@]}" -o "$out/$t-static"
  cc "${cflags[@]}" "${san[@]}" "${pc_cflags[@]}" "bindings/c/tests/$t.c" "${pc_libs[@]}" -o "$out/$t-san"
  echo "== $t"
  run "$t" "$out/$t" | tail -3
  echo "== $t (static)"
  run "$t" "$out/$t-static" | tail -1
  echo "== $t (ASan, UBSan)"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run "$t" "$out/$t-san" | tail -1
  echo "== $t (valgrind)"
  run "$t" valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,possible "$out/$t" | tail -1
done
c++ "${cxxflags[@]}" "${pc_cflags[@]}" bindings/c/tests/cpp17.cpp "${pc_libs[@]}" -o "$out/cpp17"
echo "== C++17"
"$out/cpp17"
echo "== WASI: libwsengine.a for wasm32-wasip1, the programs by clang, run in Node's WASI"
cargo build -q --release -p wsengine-c --target wasm32-wasip1
for t in sample misuse; do
  clang --target=wasm32-wasi -std=c11 -Wall -Wextra -Werror -O2 "${pc_cflags[@]}" "bindings/c/tests/$t.c" \
    target/wasm32-wasip1/release/libwsengine.a -o "$out/$t.wasm"
  node --no-warnings bindings/c/tests/wasi.mjs "$out/$t.wasm" | tail -1
done
echo "== a CMake project (pkg_check_modules)"
cmake=$(command -v cmake || echo "$HOME/.local/bin/cmake")
rm -rf "$out/cmake"
"$cmake" -S bindings/c/tests/cmake -B "$out/cmake" -DCMAKE_BUILD_TYPE=Release >/dev/null
"$cmake" --build "$out/cmake" >/dev/null
"$out/cmake/sample" | tail -1
