// The two declarations Jazzer.js's addon takes from libFuzzer's internal FuzzerDefs.h
// (compiler-rt/lib/fuzzer), which Debian's libclang-rt-14-dev ships compiled but not as a
// header. They match LLVM 14's definitions, which the archive exports.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fuzzer {
typedef int (*UserCallback)(const uint8_t *Data, size_t Size);
int FuzzerDriver(int *argc, char ***argv, UserCallback Callback);
}  // namespace fuzzer
