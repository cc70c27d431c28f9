#pragma once
// Denormal floats (below ~1e-38) make x86 arithmetic many times slower. A
// gradient that dies away (a saturated softmax, a ReLU layer whose deltas
// all vanish) can fill whole matrices with them and slow a training step
// tenfold; flushing them to zero costs nothing and changes no result that
// matters.

#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#define SCVAE_HAVE_MXCSR 1
#endif

namespace scvae {

namespace detail {
/// While alive, this thread's SSE/AVX arithmetic flushes denormal results to
/// zero and reads denormal inputs as zero (x86's FTZ and DAZ bits); the
/// previous mode comes back at scope exit. Elsewhere it does nothing.
class FlushDenormals {
 public:
  FlushDenormals() {
#ifdef SCVAE_HAVE_MXCSR
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | 0x8040u);  // FTZ (bit 15) | DAZ (bit 6)
#endif
  }
  ~FlushDenormals() {
#ifdef SCVAE_HAVE_MXCSR
    _mm_setcsr(saved_);
#endif
  }
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

 private:
  unsigned saved_ = 0;
};
}  // namespace detail

}  // namespace scvae
