#include "scvae/kernels/im2col.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "bit_values.hpp"

// The unfolding, folding, splitting and merging of kernels/im2col.hpp
// against their definitions, bit for bit, over many geometries. Built twice:
// with the test flags (the scalar loops) and in native_tests with the
// examples' -march=native, which on an AVX-512 machine runs the vector runs
// of kernels/avx512_runs.hpp. Every buffer has sentinels around it (and
// between samples where the images have a larger stride): a write outside
// a function's output, even of an unchanged value's bits, is caught only
// if it changes them, so the sentinels are NaNs with a payload no
// computation here makes.

namespace scvae {
namespace {

constexpr Index kGuard = 40;

using bit_values::same_bits;
using bit_values::sentinel;
using bit_values::value_for;

/// A buffer of `size` values with kGuard sentinels on each side.
struct Guarded {
  std::vector<float> storage;
  explicit Guarded(Index size)
      : storage(static_cast<std::size_t>(size + 2 * kGuard), sentinel()) {}
  float* data() { return storage.data() + kGuard; }
  const float* data() const { return storage.data() + kGuard; }
  float& at(Index i) { return storage[static_cast<std::size_t>(i + kGuard)]; }
};

PatchGeometry geometry(Index channels, Index height, Index width, Index kernel, Index stride,
                       Index padding) {
  PatchGeometry g;
  g.channels = channels;
  g.image_height = height;
  g.image_width = width;
  g.kernel_height = kernel;
  g.kernel_width = kernel + (width % 2);  // rectangular kernels too
  g.stride_height = stride;
  g.stride_width = stride;
  g.padding_height = padding;
  g.padding_width = padding;
  g.grid_height = (height + 2 * padding - g.kernel_height) / stride + 1;
  g.grid_width = (width + 2 * padding - g.kernel_width) / stride + 1;
  return g;
}

/// Where padded pixel (y, x) of channel c lies in a sample's phase images.
Index phase_index(const PatchGeometry& g, Index c, Index y, Index x) {
  const Index py = y % g.stride_height, px = x % g.stride_width;
  const Index phase = (c * g.stride_height + py) * g.stride_width + px;
  return (phase * g.phase_height() + y / g.stride_height) * g.phase_width() + x / g.stride_width;
}

struct Case {
  PatchGeometry g;
  Index n, image_stride;
  std::string name;
};

std::vector<Case> cases() {
  std::vector<Case> all;
  for (Index stride : {1, 2, 3})
    for (Index padding : {0, 1, 2})
      for (Index kernel : {1, 3, 4})
        for (Index size : {4, 7, 14, 15, 17, 28, 33, 48, 65})
          for (Index channels : {1, 3})
            for (Index n : {1, 3}) {
              if (size + 2 * padding < kernel + 1) continue;
              const PatchGeometry g = geometry(channels, size, size + (size % 3), kernel, stride,
                                               padding);
              const Index gap = n > 1 && size % 2 == 1 ? 5 : 0;
              all.push_back({g, n, g.image_features() + gap,
                             "stride " + std::to_string(stride) + " padding " +
                                 std::to_string(padding) + " kernel " + std::to_string(kernel) +
                                 " size " + std::to_string(size) + " channels " +
                                 std::to_string(channels) + " n " + std::to_string(n)});
            }
  return all;
}

/// Images of n samples, image_stride apart, the gaps between them sentinels.
Guarded random_images(const Case& c, std::uint64_t& state) {
  Guarded images(c.image_stride * c.n);
  for (Index s = 0; s < c.n; ++s)
    for (Index i = 0; i < c.g.image_features(); ++i)
      images.at(s * c.image_stride + i) = value_for(state);
  return images;
}

void expect_same(const Guarded& got, const Guarded& want, const std::string& what) {
  ASSERT_EQ(got.storage.size(), want.storage.size());
  for (std::size_t i = 0; i < got.storage.size(); ++i)
    ASSERT_TRUE(same_bits(got.storage[i], want.storage[i]))
        << what << ": value " << static_cast<Index>(i) - kGuard << " is " << got.storage[i]
        << ", expected " << want.storage[i];
}

TEST(Im2col, SplitAndMergeArePhaseMovesOfEveryPixel) {
  std::uint64_t state = 7;
  for (const Case& c : cases()) {
    const PatchGeometry& g = c.g;
    const Guarded images = random_images(c, state);
    Guarded phases(g.phase_values() * c.n), want(g.phase_values() * c.n);
    for (Index s = 0; s < c.n; ++s)
      for (Index i = 0; i < g.phase_values(); ++i) want.at(s * g.phase_values() + i) = 0.0f;
    for (Index s = 0; s < c.n; ++s)
      for (Index ch = 0; ch < g.channels; ++ch)
        for (Index y = 0; y < g.image_height; ++y)
          for (Index x = 0; x < g.image_width; ++x)
            want.at(s * g.phase_values() +
                    phase_index(g, ch, y + g.padding_height, x + g.padding_width)) =
                images.data()[s * c.image_stride + (ch * g.image_height + y) * g.image_width + x];
    split_phases(g, images.data(), c.image_stride, c.n, phases.data());
    expect_same(phases, want, "split_phases, " + c.name);

    // The adjoint, over and onto other images.
    Guarded merged = random_images(c, state);
    Guarded added = merged;
    Guarded want_merged = merged, want_added = merged;
    for (Index s = 0; s < c.n; ++s)
      for (Index ch = 0; ch < g.channels; ++ch)
        for (Index y = 0; y < g.image_height; ++y)
          for (Index x = 0; x < g.image_width; ++x) {
            const Index pixel = s * c.image_stride + (ch * g.image_height + y) * g.image_width + x;
            const float value = phases.data()[s * g.phase_values() +
                                              phase_index(g, ch, y + g.padding_height,
                                                          x + g.padding_width)];
            want_merged.data()[pixel] = value;
            want_added.data()[pixel] = want_added.data()[pixel] + value;
          }
    merge_phases(g, phases.data(), c.n, merged.data(), c.image_stride);
    expect_same(merged, want_merged, "merge_phases, " + c.name);
    merge_phases_add(g, phases.data(), c.n, added.data(), c.image_stride);
    expect_same(added, want_added, "merge_phases_add, " + c.name);
  }
}

TEST(Im2col, UnfoldAndFoldFollowEveryTap) {
  std::uint64_t state = 11;
  for (const Case& c : cases()) {
    const PatchGeometry& g = c.g;
    const Index positions = g.positions(), ld = positions * c.n;
    Guarded phases(g.phase_values() * c.n);
    for (Index i = 0; i < g.phase_values() * c.n; ++i) phases.at(i) = value_for(state);
    Guarded rows(ld * g.patch_size()), want_rows(ld * g.patch_size());
    Guarded folded(g.phase_values() * c.n), want_folded(g.phase_values() * c.n);
    for (Index i = 0; i < g.phase_values() * c.n; ++i) want_folded.at(i) = 0.0f;
    Guarded fold_input(ld * g.patch_size());
    for (Index i = 0; i < ld * g.patch_size(); ++i) fold_input.at(i) = value_for(state);
    // Tap after tap, sample after sample, position after position: the
    // order fold_phases promises to add in.
    for (Index ch = 0; ch < g.channels; ++ch)
      for (Index ky = 0; ky < g.kernel_height; ++ky)
        for (Index kx = 0; kx < g.kernel_width; ++kx) {
          const Index k = (ch * g.kernel_height + ky) * g.kernel_width + kx;
          for (Index s = 0; s < c.n; ++s)
            for (Index gy = 0; gy < g.grid_height; ++gy)
              for (Index gx = 0; gx < g.grid_width; ++gx) {
                const Index row = k * ld + s * positions + gy * g.grid_width + gx;
                const Index from = s * g.phase_values() +
                                   phase_index(g, ch, gy * g.stride_height + ky,
                                               gx * g.stride_width + kx);
                want_rows.at(row) = phases.data()[from];
                want_folded.at(from) = want_folded.at(from) + fold_input.data()[row];
              }
        }
    unfold_phases(g, phases.data(), c.n, rows.data());
    expect_same(rows, want_rows, "unfold_phases, " + c.name);
    fold_phases(g, fold_input.data(), c.n, folded.data());
    expect_same(folded, want_folded, "fold_phases, " + c.name);
  }
}

TEST(Im2col, ChannelSumsAddSampleAfterSamplePositionAfterPosition) {
  std::uint64_t state = 13;
  for (Index channels : {1, 3, 8, 11, 17})
    for (Index positions : {1, 5, 49})
      for (bool accumulate : {false, true}) {
        const Index n = 3, stride = channels * positions + 2;
        std::vector<float> batch(static_cast<std::size_t>(n * stride));
        for (float& v : batch) v = value_for(state);
        std::vector<float> sums(static_cast<std::size_t>(channels)), want(sums.size());
        for (Index c = 0; c < channels; ++c) {
          sums[static_cast<std::size_t>(c)] = value_for(state);
          float sum = accumulate ? sums[static_cast<std::size_t>(c)] : 0.0f;
          for (Index s = 0; s < n; ++s)
            for (Index p = 0; p < positions; ++p)
              sum += batch[static_cast<std::size_t>(s * stride + c * positions + p)];
          want[static_cast<std::size_t>(c)] = sum;
        }
        channel_sums(batch.data(), stride, positions, channels, n, sums.data(), accumulate);
        for (Index c = 0; c < channels; ++c)
          EXPECT_TRUE(same_bits(sums[static_cast<std::size_t>(c)], want[static_cast<std::size_t>(c)]))
              << "channel " << c << " of " << channels << ", " << positions << " positions";
      }
}

}  // namespace
}  // namespace scvae
