# Every dependency is a Debian 12 package (scripts/install-deps.sh) found here.
find_package(PkgConfig REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(fmt REQUIRED)

# What the fuzz sub-build's targets link too (api_request_fuzz: the API server on SQLite).
find_package(spdlog REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS system)
find_package(Threads REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)  # secretbox (Secrets at rest)

if(SWITCHYARD_FUZZ_ONLY)
  return()
endif()

find_package(GTest REQUIRED)
find_package(benchmark REQUIRED)
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf)
pkg_check_modules(LIBNFTNL REQUIRED IMPORTED_TARGET libnftnl)
pkg_check_modules(LIBMNL REQUIRED IMPORTED_TARGET libmnl)
pkg_check_modules(LIBNETFILTER_CONNTRACK REQUIRED IMPORTED_TARGET libnetfilter_conntrack)
pkg_check_modules(CARES REQUIRED IMPORTED_TARGET libcares)
find_program(CLANG_BPF NAMES clang-16 clang REQUIRED)  # clang-16: BPF CO-RE and the verifier-friendly codegen we test with
find_program(BPFTOOL bpftool PATHS /usr/sbin /sbin REQUIRED)
