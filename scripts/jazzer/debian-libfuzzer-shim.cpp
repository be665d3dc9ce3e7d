// What Jazzer.js's patched libFuzzer (CodeIntelligenceTesting/llvm-project-jazzer) has and
// the upstream libFuzzer Debian ships lacks, so the addon links against the latter.
#include <cstdint>

extern "C" {
// Defined by the addon (shared/sanitizer_symbols.cpp): where it learns how to make libFuzzer
// write the crashing input before it exits on a JavaScript finding.
void __jazzer_set_death_callback(void (*callback)());

// Upstream libFuzzer hands its death callback (print the banner, write crash-<sha1>) to the
// sanitizer runtime through this weak hook at start-up; there is no sanitizer runtime here,
// so it goes to the addon, as Jazzer's patch does.
void __sanitizer_set_death_callback(void (*callback)()) { __jazzer_set_death_callback(callback); }

void __sanitizer_cov_trace_const_cmp8(uint64_t arg1, uint64_t arg2);
void __sanitizer_cov_trace_pc_indir(uintptr_t callee);

// Jazzer passes a per-site id as the "PC"; upstream takes the caller's return address, so
// every JavaScript comparison shares one site here: the operands still feed libFuzzer's table
// of recent comparisons (for its mutations); only -use_value_profile is coarser.
void __sanitizer_cov_trace_const_cmp8_with_pc(uintptr_t, uint64_t arg1, uint64_t arg2) {
  __sanitizer_cov_trace_const_cmp8(arg1, arg2);
}
void __sanitizer_cov_trace_pc_indir_with_pc(void *, uintptr_t callee) {
  __sanitizer_cov_trace_pc_indir(callee);
}
}
