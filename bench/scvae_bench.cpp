// Google Benchmark suite for scvae (issue 7). Names follow BM_<Component>_<Op>;
// every benchmark reports samples/s (items_per_second) and, where the work is
// a known number of floating-point operations, FLOP/s as a rate counter.
//
//   scvae_bench --benchmark_filter='VAE_TrainStep|Gemm' --benchmark_repetitions=3
//               --benchmark_report_aggregates_only=true --benchmark_format=json
//
// FLOPs are counted as in issue 7: a dense layer of in x out costs 2*in*out
// per sample for the forward product, as much again for the weight gradient,
// and as much again for the input gradient unless the input is the data x.
// For the 784-400-20-400-784 VAE that is 3.28 MFLOP per sample. Elementwise
// work (activations, likelihood, KL, Adam) is not counted: FLOP/s is the GEMM
// work per second, comparable with BM_Eigen_Gemm_Reference.

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "scvae/kernels/gemm_bf16.hpp"
#include "scvae/scvae.hpp"

namespace {

using scvae::Index;
using Mat = scvae::Matrix<float>;

constexpr Index kInputs = 784;
constexpr Index kHidden = 400;
constexpr Index kLatent = 20;

/// Deterministic grey levels in [0, 1], like Fashion-MNIST pixels.
Mat images(Index n, std::uint64_t seed = 11) {
  scvae::Rng rng(seed);
  Mat x(kInputs, n);
  for (Index j = 0; j < n; ++j)
    for (Index i = 0; i < kInputs; ++i) {
      const double u = rng.uniform();
      x(i, j) = u < 0.5 ? 0.0f : static_cast<float>(u);  // half the pixels black
    }
  return x;
}

/// (inputs, outputs, input gradient needed) of every dense layer of the VAE.
struct LayerShape {
  Index in, out;
  bool input_gradient;
};
const std::vector<LayerShape>& vae_layers() {
  static const std::vector<LayerShape> layers{{kInputs, kHidden, false},
                                              {kHidden, 2 * kLatent, true},
                                              {kLatent, kHidden, true},
                                              {kHidden, kInputs, true}};
  return layers;
}

/// FLOPs of one train step per sample (forward, weight and input gradients).
double vae_step_flops_per_sample() {
  double flops = 0.0;
  for (const LayerShape& l : vae_layers())
    flops += 2.0 * static_cast<double>(l.in * l.out) * (l.input_gradient ? 3.0 : 2.0);
  return flops;  // 3.28e6
}

void set_rates(benchmark::State& state, Index samples_per_iteration, double flops_per_sample) {
  const auto items = static_cast<std::int64_t>(state.iterations()) * samples_per_iteration;
  state.SetItemsProcessed(items);
  if (flops_per_sample > 0.0)
    state.counters["FLOP/s"] =
        benchmark::Counter(static_cast<double>(items) * flops_per_sample,
                           benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

// ---------------------------------------------------------------- dense layer

void BM_Dense_Forward(benchmark::State& state) {
  const Index n = state.range(0);
  scvae::ParameterLayout layout;
  scvae::DenseLayer dense(kInputs, kHidden, scvae::Activation::ReLU, layout);
  scvae::Vector<float> values(layout.total());
  scvae::Rng rng(3);
  dense.initialize(values.data(), rng);
  const Mat x = images(n);
  Mat y(kHidden, n);
  for (auto _ : state) {
    dense.forward(values.data(), x, y);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_rates(state, n, 2.0 * kInputs * kHidden);
}
BENCHMARK(BM_Dense_Forward)->Arg(128)->ArgName("batch");

/// Weight, bias and input gradients of a 784x400 ReLU layer.
void BM_Dense_Backward(benchmark::State& state) {
  const Index n = state.range(0);
  scvae::ParameterLayout layout;
  scvae::DenseLayer dense(kInputs, kHidden, scvae::Activation::ReLU, layout);
  scvae::Vector<float> values(layout.total()), gradients(layout.total());
  scvae::Rng rng(3);
  dense.initialize(values.data(), rng);
  const Mat x = images(n);
  Mat y(kHidden, n), delta(kHidden, n), input_gradient(kInputs, n);
  dense.forward(values.data(), x, y);
  Mat upstream = Mat::Random(kHidden, n);
  gradients.setZero();
  for (auto _ : state) {
    delta = upstream;
    scvae::MatrixRef<float> ig(input_gradient);
    dense.backward(values.data(), gradients.data(), x, y, delta, &ig);
    benchmark::DoNotOptimize(gradients.data());
    benchmark::DoNotOptimize(input_gradient.data());
    benchmark::ClobberMemory();
  }
  set_rates(state, n, 4.0 * kInputs * kHidden);
}
BENCHMARK(BM_Dense_Backward)->Arg(128)->ArgName("batch");

// ------------------------------------------------------------- whole train step

/// Steps of loss_and_gradient (forward, backward) + Adam on `model`, as the
/// Trainer runs them (Adam on the model's threads), `samples` per step.
template <typename Model>
void run_train_steps(benchmark::State& state, Model& model,
                     const scvae::Matrix<typename Model::Scalar>& x, double flops_per_sample) {
  scvae::AdamT<typename Model::Scalar> adam;
  scvae::Rng rng(5);
  double loss = 0.0;
  for (auto _ : state) {
    loss += model.loss_and_gradient(x, rng).total;
    adam.step(model.parameters(), model.gradients(), model.thread_pool());
  }
  benchmark::DoNotOptimize(loss);
  set_rates(state, x.cols(), flops_per_sample);
}

/// loss_and_gradient (forward, backward) + Adam on the 784-400-20-400-784 VAE.
/// Args: batch, threads.
template <typename Scalar>
void vae_train_step(benchmark::State& state,
                    scvae::Precision precision = scvae::Precision::Fp32) {
  const Index n = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  scvae::VAET<Scalar> vae(kInputs, {kHidden}, kLatent, 1, scvae::LikelihoodSpec::bernoulli(),
                          scvae::Activation::ReLU, scvae::Initialization::PyTorch);
  vae.set_threads(threads);
  vae.set_precision(precision);
  run_train_steps(state, vae, images(n).cast<Scalar>().eval(), vae_step_flops_per_sample());
}
void BM_VAE_TrainStep(benchmark::State& state) { vae_train_step<float>(state); }
BENCHMARK(BM_VAE_TrainStep)
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{32, 128, 512}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
/// The same step with bf16 products (issue 24; scalar, and slow, where the
/// CPU lacks AVX512_BF16); FLOP/s count the same multiply-adds.
void BM_VAE_TrainStep_Bf16(benchmark::State& state) {
  vae_train_step<float>(state, scvae::Precision::Bf16);
}
BENCHMARK(BM_VAE_TrainStep_Bf16)
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{128}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
/// The same step in double precision (the issue measured it 2x slower).
void BM_VAE_TrainStep_Double(benchmark::State& state) { vae_train_step<double>(state); }
BENCHMARK(BM_VAE_TrainStep_Double)
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{128}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

/// Multiply-adds per sample of each product of the conv VAE (issue 20, as
/// `mnist_vae --arch conv` builds it with latent 20): positions x patch x
/// filters for a convolution (for a transposed one: input positions x output
/// patch x input channels), in x out for a dense layer.
struct ProductShape {
  double multiply_adds;
  bool input_gradient;
};
double conv_vae_step_flops_per_sample() {
  const ProductShape products[] = {
      {14.0 * 14 * (1 * 4 * 4) * 32, false},  // conv2d 1->32: 14x14 positions of 1x4x4
      {7.0 * 7 * (32 * 4 * 4) * 64, true},    // conv2d 32->64: 7x7 of 32x4x4
      {3136.0 * 256, true},                   // dense 3136->256
      {256.0 * 2 * kLatent, true},            // Gaussian head 256->(mu, logvar)
      {kLatent * 256.0, true},                // dense 20->256
      {256.0 * 3136, true},                   // dense 256->3136
      {7.0 * 7 * (32 * 4 * 4) * 64, true},    // conv_transpose2d 64->32
      {14.0 * 14 * (1 * 4 * 4) * 32, true},   // conv_transpose2d 32->1
  };
  double flops = 0.0;
  for (const ProductShape& p : products) flops += 2.0 * p.multiply_adds * (p.input_gradient ? 3 : 2);
  return flops;  // 30.0e6: the "about 30 MFLOP per image for a training step"
}

/// loss_and_gradient + Adam on the conv VAE of `mnist_vae --arch conv`
/// (Fashion-MNIST-like images, latent 20). Args: batch, threads.
void conv_vae_train_step(benchmark::State& state, scvae::Precision precision) {
  const Index n = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  scvae::ModelSpec spec = scvae::VAE::make_spec(kInputs, {}, kLatent);
  spec.input_shape = scvae::Shape(1, 28, 28);
  spec.encoder_network =
      "[conv2d(32,4,2,1) relu conv2d(64,4,2,1) relu flatten dense(256) relu gaussian(20)]";
  spec.tasks[0].network =
      "[dense(256) relu dense(3136) relu reshape(64x7x7) conv_transpose2d(32,4,2,1) relu "
      "conv_transpose2d(1,4,2,1)]";
  spec.initialization = scvae::Initialization::PyTorch;
  scvae::VAE vae(spec, 1);
  vae.set_threads(threads);
  vae.set_precision(precision);
  run_train_steps(state, vae, images(n), conv_vae_step_flops_per_sample());
}
void BM_ConvVAE_TrainStep(benchmark::State& state) {
  conv_vae_train_step(state, scvae::Precision::Fp32);
}
BENCHMARK(BM_ConvVAE_TrainStep)
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{128}, {1, 2}})
    ->Args({64, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
void BM_ConvVAE_TrainStep_Bf16(benchmark::State& state) {
  conv_vae_train_step(state, scvae::Precision::Bf16);
}
BENCHMARK(BM_ConvVAE_TrainStep_Bf16)
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{128}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

/// One convolution of the conv VAE at a chunk of 64 samples (one thread's
/// share of a 2-thread batch of 128), one phase of its step, to see where
/// the conv step's time goes. Args: layer (0: conv2d 1->32 on 28x28, 1:
/// conv2d 32->64 on 14x14, 2: conv_transpose2d 64->32 on 7x7, 3:
/// conv_transpose2d 32->1 on 14x14; 4: a 3x3 conv2d 16->16 at stride 1 on
/// 28x28), phase (0: forward, 1: input gradient, 2: parameter gradient).
void BM_Conv_Layer(benchmark::State& state) {
  const int layer = static_cast<int>(state.range(0));
  const int phase = static_cast<int>(state.range(1));
  constexpr Index kChunk = 64;
  std::unique_ptr<scvae::ModuleT<float>> module;
  switch (layer) {
    case 0: module = std::make_unique<scvae::Conv2d>(scvae::Shape(1, 28, 28), 32, 4, 2, 1); break;
    case 1: module = std::make_unique<scvae::Conv2d>(scvae::Shape(32, 14, 14), 64, 4, 2, 1); break;
    case 2:
      module = std::make_unique<scvae::ConvTranspose2d>(scvae::Shape(64, 7, 7), 32, 4, 2, 1);
      break;
    case 3:
      module = std::make_unique<scvae::ConvTranspose2d>(scvae::Shape(32, 14, 14), 1, 4, 2, 1);
      break;
    default:  // not the conv VAE's: the common 3x3 "same" convolution at stride 1
      module = std::make_unique<scvae::Conv2d>(scvae::Shape(16, 28, 28), 16, 3, 1, 1);
  }
  scvae::Vector<float> parameters(module->parameter_count());
  scvae::Vector<float> gradient(module->parameter_count());
  scvae::Rng rng(5);
  module->initialize(parameters.data(), rng, scvae::InitOptions{});
  const Mat input = Mat::Random(module->inputs(), kChunk);
  Mat output(module->outputs(), kChunk);
  Mat output_gradient = Mat::Random(module->outputs(), kChunk);
  Mat input_gradient(module->inputs(), kChunk);
  auto workspace = module->make_workspace();
  module->prepare(workspace.get(), kChunk);
  module->forward(parameters.data(), input, output, workspace.get());
  for (auto _ : state) {
    if (phase == 0) {
      module->forward(parameters.data(), input, output, workspace.get());
    } else if (phase == 1) {
      scvae::MatrixRef<float> target(input_gradient);
      scvae::InputGradient<float> wanted{&target, scvae::GradientWrite::Overwrite};
      module->backward(parameters.data(), input, output, output_gradient, wanted, workspace.get());
    } else {
      module->parameter_gradient(input, output_gradient, gradient.data(),
                                 scvae::GradientWrite::Overwrite, workspace.get());
    }
    benchmark::ClobberMemory();
  }
  // Every phase is one product of the weight gradient's multiply-adds per
  // sample, the forward's too.
  set_rates(state, kChunk, 2.0 * module->parameter_gradient_cost());
}
BENCHMARK(BM_Conv_Layer)
    ->ArgNames({"layer", "phase"})
    ->ArgsProduct({{0, 1, 2, 3, 4}, {0, 1, 2}})
    ->Unit(benchmark::kMicrosecond);

/// The four products of a VAE layer's step at a chunk of 64 samples: W1 X,
/// W4 H, the weight gradient D X^T, and the input gradient W^T D.
struct GemmProduct {
  Index m, n, k;
  bool trans_a, trans_b;

  /// Random operands as the product reads them: A stored m x k, or k x m
  /// for A^T; B likewise.
  Mat stored_a() const { return trans_a ? Mat::Random(k, m) : Mat::Random(m, k); }
  Mat stored_b() const { return trans_b ? Mat::Random(n, k) : Mat::Random(k, n); }
  double flops() const { return 2.0 * static_cast<double>(m * n * k); }
};
using scvae::detail::ProductWrite;
using scvae::detail::Stored;

/// Stored::Transposed when the product reads the transpose of what is stored.
Stored stored(bool transposed) { return transposed ? Stored::Transposed : Stored::AsIs; }

const GemmProduct kGemmProducts[] = {{kHidden, 64, kInputs, false, false},
                                     {kInputs, 64, kHidden, false, false},
                                     {kInputs, kHidden, 64, false, true},
                                     {kHidden, 64, kInputs, true, false}};

/// One product of the MNIST VAE's dense layers, as the layers run it
/// (detail::gemm: the AVX-512 kernels where built, else Eigen's kernel on
/// reused buffers) or as a plain Eigen noalias product. Args: shape (0: W1 X,
/// 1: W4 H, 2: D4 H^T accumulated, 3: W4^T D4; batch 64, one thread's chunk
/// of a 2-thread batch of 128), eigen (0: detail::gemm, 1: Eigen).
void BM_Gemm_Product(benchmark::State& state) {
  const GemmProduct& p = kGemmProducts[state.range(0)];
  const bool eigen = state.range(1) != 0;
  const Mat a = p.stored_a();
  const Mat b = p.stored_b();
  Mat c = Mat::Zero(p.m, p.n);
  const bool accumulate = p.trans_b;  // weight gradients sum over chunks
  for (auto _ : state) {
    if (eigen) {
      if (p.trans_a)
        c.noalias() = a.transpose() * b;
      else if (p.trans_b)
        c.noalias() += a * b.transpose();
      else
        c.noalias() = a * b;
    } else if (p.trans_a) {
      scvae::detail::gemm<true, false>(a, b, c, accumulate);
    } else if (p.trans_b) {
      scvae::detail::gemm<false, true>(a, b, c, accumulate);
    } else {
      scvae::detail::gemm<false, false>(a, b, c, accumulate);
    }
    benchmark::ClobberMemory();
  }
  state.counters["FLOP/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * p.flops(),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Gemm_Product)->ArgNames({"shape", "eigen"})->ArgsProduct({{0, 1, 2, 3}, {0, 1}});

/// BM_Gemm_Product's products with bf16 operands and float sums (issue 24;
/// kernels/gemm_bf16.hpp), on AVX512_BF16 where the CPU has it (else the
/// scalar path, slow). The weight's packing (once per step, after the
/// optimizer, in a bf16 training) stays outside the loop; the packing of
/// the activations and deltas, which every product needs afresh, is timed
/// with it unless kernel_only. FLOP/s counts 2 m n k as for floats.
/// Args: shape (as BM_Gemm_Product), kernel_only.
void BM_Gemm_Bf16(benchmark::State& state) {
  const GemmProduct& p = kGemmProducts[state.range(0)];
  const bool kernel_only = state.range(1) != 0;
  const Mat a = p.stored_a();
  const Mat b = p.stored_b();
  Mat c = Mat::Zero(p.m, p.n);
  // Weight gradients sum over chunks.
  const ProductWrite write = p.trans_b ? ProductWrite::Add : ProductWrite::Overwrite;
  const Index pairs = scvae::detail::bf16_pairs(p.k);
  std::vector<std::uint32_t> a_pairs(static_cast<std::size_t>(pairs * p.m));
  std::vector<std::uint32_t> b_pairs(static_cast<std::size_t>(pairs * p.n));
  // A is the weight (W or W^T) in the forward and input-gradient products,
  // packed once; in the weight gradient D X^T it is the delta D.
  const bool a_is_weight = !p.trans_b;
  auto pack_a = [&] {
    scvae::detail::pack_rows_in_pairs(p.m, p.k, a.data(), a.rows(), stored(p.trans_a),
                                      a_pairs.data());
  };
  auto pack_b = [&] {
    scvae::detail::pack_columns_in_pairs(p.k, p.n, b.data(), b.rows(), stored(p.trans_b),
                                         b_pairs.data(), pairs);
  };
  pack_a();
  pack_b();
  for (auto _ : state) {
    if (!kernel_only) {
      if (!a_is_weight) pack_a();
      pack_b();
    }
    scvae::detail::gemm_bf16(p.m, p.n, pairs, a_pairs.data(), b_pairs.data(), pairs, c.data(),
                             c.rows(), write);
    benchmark::ClobberMemory();
  }
  state.SetLabel(scvae::detail::cpu_has_bf16() ? "avx512_bf16" : "scalar (no AVX512_BF16)");
  state.counters["FLOP/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * p.flops(),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Gemm_Bf16)->ArgNames({"shape", "kernel_only"})->ArgsProduct({{0, 1, 2, 3}, {0, 1}});

#ifdef SCVAE_HAVE_BF16_KERNEL
/// 12 independent chains of vdpbf16ps from `start`, `rounds` long; returns
/// their sum so that none is optimised away. Not inlined, and fed a value the
/// compiler cannot see, so that the loop is not hoisted out of the timing.
SCVAE_TARGET_BF16 __attribute__((noinline)) float bf16_dot_chains(float start, long rounds) {
  const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f7f3f7f);  // pairs of 0.996
  const __m512bh b = (__m512bh)_mm512_set1_epi32(0x33d633d6);  // pairs of 1e-7
  __m512 c[12];
#pragma GCC unroll 12
  for (int i = 0; i < 12; ++i) c[i] = _mm512_set1_ps(start + static_cast<float>(i));
  for (long r = 0; r < rounds; ++r) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) c[i] = _mm512_dpbf16_ps(c[i], a, b);
  }
  __m512 sum = c[0];
#pragma GCC unroll 12
  for (int i = 1; i < 12; ++i) sum = _mm512_add_ps(sum, c[i]);
  return _mm512_reduce_add_ps(sum);
}
#endif

/// The core's peak bf16 multiply-add rate (vdpbf16ps: 16 lanes x 2 products
/// per instruction), on each of `threads` threads: BM_Gemm_Bf16's ceiling,
/// beside BM_Fma_Peak's float one. Args: threads.
void BM_Bf16_Peak(benchmark::State& state) {
#ifdef SCVAE_HAVE_BF16_KERNEL
  if (!scvae::detail::cpu_has_bf16()) {
    state.SkipWithError("this CPU has no AVX512_BF16");
    return;
  }
  constexpr long kRounds = 1 << 16;
  const int threads = static_cast<int>(state.range(0));
  std::vector<float> sums(static_cast<std::size_t>(threads));
  scvae::ThreadPool pool(threads);
  auto chains = [&](int t) {
    float start = static_cast<float>(t);
    benchmark::DoNotOptimize(start);
    sums[static_cast<std::size_t>(t)] = bf16_dot_chains(start, kRounds);
    benchmark::ClobberMemory();
  };
  for (auto _ : state) pool.run(threads, chains);
  benchmark::DoNotOptimize(sums.data());
  const double flops_per_iteration = 2.0 * 2 * 16 * 12 * kRounds * threads;
  state.counters["FLOP/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * flops_per_iteration, benchmark::Counter::kIsRate);
#else
  state.SkipWithError("built without the bf16 kernel (not x86 with GCC or clang)");
#endif
}
BENCHMARK(BM_Bf16_Peak)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime();

/// The core's peak multiply-add rate: 12 independent chains of Eigen's
/// widest float packet (enough to hide the FMA latency on two ports), on each
/// of `threads` threads. The ceiling for BM_Eigen_Gemm_Reference. Args: threads.
void BM_Fma_Peak(benchmark::State& state) {
  using Packet = Eigen::internal::packet_traits<float>::type;
  using Eigen::internal::pmadd;
  constexpr int kLanes = Eigen::internal::packet_traits<float>::size;
  constexpr long kRounds = 1 << 16;
  const int threads = static_cast<int>(state.range(0));
  auto chains = [&](int) {
    const Packet a = Eigen::internal::pset1<Packet>(0.999999f);
    const Packet b = Eigen::internal::pset1<Packet>(1e-7f);
    // Different starting values, or the compiler merges identical chains.
    auto start = [](int i) { return Eigen::internal::pset1<Packet>(static_cast<float>(i)); };
    Packet c0 = start(0), c1 = start(1), c2 = start(2), c3 = start(3), c4 = start(4);
    Packet c5 = start(5), c6 = start(6), c7 = start(7), c8 = start(8), c9 = start(9);
    Packet c10 = start(10), c11 = start(11);
    for (long r = 0; r < kRounds; ++r) {
      c0 = pmadd(c0, a, b), c1 = pmadd(c1, a, b), c2 = pmadd(c2, a, b);
      c3 = pmadd(c3, a, b), c4 = pmadd(c4, a, b), c5 = pmadd(c5, a, b);
      c6 = pmadd(c6, a, b), c7 = pmadd(c7, a, b), c8 = pmadd(c8, a, b);
      c9 = pmadd(c9, a, b), c10 = pmadd(c10, a, b), c11 = pmadd(c11, a, b);
    }
    // One sum keeps every chain live without taking their addresses (which
    // would keep them in memory rather than registers).
    using Eigen::internal::padd;
    Packet sum = padd(padd(padd(c0, c1), padd(c2, c3)), padd(padd(c4, c5), padd(c6, c7)));
    sum = padd(sum, padd(padd(c8, c9), padd(c10, c11)));
    benchmark::DoNotOptimize(sum);
  };
  scvae::ThreadPool pool(threads);
  for (auto _ : state) pool.run(threads, chains);
  const double flops_per_iteration = 2.0 * 12 * kLanes * kRounds * threads;
  state.counters["FLOP/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * flops_per_iteration, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Fma_Peak)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime();

/// The same GEMMs as one VAE train step, as plain Eigen noalias products on
/// the same shapes: per layer Y = W X, dW = D X^T, and dX = W^T D where the
/// step computes it. With 2 threads the batch is split in two halves, as the
/// model does, each half on its own thread. Args: batch, threads.
void BM_Eigen_Gemm_Reference(benchmark::State& state) {
  const Index n = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  struct Half {
    std::vector<Mat> w, x, y, d, dw, dx;
  };
  std::vector<Half> halves(static_cast<std::size_t>(threads));
  for (int c = 0; c < threads; ++c) {
    const Index cols = n * (c + 1) / threads - n * c / threads;
    Half& h = halves[static_cast<std::size_t>(c)];
    for (const LayerShape& l : vae_layers()) {
      h.w.push_back(Mat::Random(l.out, l.in));
      h.x.push_back(Mat::Random(l.in, cols));
      h.y.push_back(Mat(l.out, cols));
      h.d.push_back(Mat::Random(l.out, cols));
      h.dw.push_back(Mat(l.out, l.in));
      h.dx.push_back(Mat(l.in, cols));
    }
  }
  auto work = [&](int c) {
    Half& h = halves[static_cast<std::size_t>(c)];
    for (std::size_t l = 0; l < vae_layers().size(); ++l) {
      h.y[l].noalias() = h.w[l] * h.x[l];
      h.dw[l].noalias() = h.d[l] * h.x[l].transpose();
      if (vae_layers()[l].input_gradient) h.dx[l].noalias() = h.w[l].transpose() * h.d[l];
    }
    benchmark::ClobberMemory();
  };
  scvae::ThreadPool pool(threads);
  for (auto _ : state) pool.run(threads, work);
  set_rates(state, n, vae_step_flops_per_sample());
}
BENCHMARK(BM_Eigen_Gemm_Reference)
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{32, 128, 512}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

/// BM_Eigen_Gemm_Reference's products in bf16 (kernels/gemm_bf16.hpp), with
/// the packing a bf16 step would do: each weight as rows in pairs, W and
/// W^T, once per step (split over the threads by layer, as after an
/// optimizer step); per chunk X as columns (W X) and transposed (D X^T), D
/// as rows (D X^T) and as columns (W^T D). What a bf16 step's products
/// would cost, before any module uses them (issue 24). Args: batch, threads.
void BM_Bf16_Gemm_Reference(benchmark::State& state) {
  using scvae::detail::bf16_pairs;
  using Words = std::vector<std::uint32_t>;
  const Index n = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  const std::vector<LayerShape>& layers = vae_layers();
  std::vector<Mat> w;
  std::vector<Words> w_rows, w_transposed_rows;
  for (const LayerShape& l : layers) {
    w.push_back(Mat::Random(l.out, l.in));
    w_rows.emplace_back(static_cast<std::size_t>(l.out * bf16_pairs(l.in)));
    w_transposed_rows.emplace_back(static_cast<std::size_t>(l.in * bf16_pairs(l.out)));
  }
  struct Chunk {
    std::vector<Mat> x, y, d, dw, dx;
    std::vector<Words> x_columns, x_transposed, d_rows, d_columns;
  };
  std::vector<Chunk> chunks(static_cast<std::size_t>(threads));
  for (int c = 0; c < threads; ++c) {
    const Index cols = n * (c + 1) / threads - n * c / threads;
    Chunk& h = chunks[static_cast<std::size_t>(c)];
    for (const LayerShape& l : layers) {
      h.x.push_back(Mat::Random(l.in, cols));
      h.y.push_back(Mat(l.out, cols));
      h.d.push_back(Mat::Random(l.out, cols));
      h.dw.push_back(Mat(l.out, l.in));
      h.dx.push_back(Mat(l.in, cols));
      h.x_columns.emplace_back(static_cast<std::size_t>(cols * bf16_pairs(l.in)));
      h.x_transposed.emplace_back(static_cast<std::size_t>(l.in * bf16_pairs(cols)));
      h.d_rows.emplace_back(static_cast<std::size_t>(l.out * bf16_pairs(cols)));
      h.d_columns.emplace_back(static_cast<std::size_t>(cols * bf16_pairs(l.out)));
    }
  }
  auto pack_weights = [&](int t) {
    for (std::size_t l = static_cast<std::size_t>(t); l < layers.size();
         l += static_cast<std::size_t>(threads)) {
      scvae::detail::pack_rows_in_pairs(layers[l].out, layers[l].in, w[l].data(), w[l].rows(),
                                        Stored::AsIs, w_rows[l].data());
      scvae::detail::pack_rows_in_pairs(layers[l].in, layers[l].out, w[l].data(), w[l].rows(),
                                        Stored::Transposed, w_transposed_rows[l].data());
    }
  };
  auto work = [&](int c) {
    Chunk& h = chunks[static_cast<std::size_t>(c)];
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const Index in = layers[l].in, out = layers[l].out, cols = h.x[l].cols();
      scvae::detail::pack_columns_in_pairs(in, cols, h.x[l].data(), in, Stored::AsIs,
                                           h.x_columns[l].data(), bf16_pairs(in));
      scvae::detail::gemm_bf16(out, cols, bf16_pairs(in), w_rows[l].data(), h.x_columns[l].data(),
                               bf16_pairs(in), h.y[l].data(), out, ProductWrite::Overwrite);
      scvae::detail::pack_rows_in_pairs(out, cols, h.d[l].data(), out, Stored::AsIs,
                                        h.d_rows[l].data());
      scvae::detail::pack_columns_in_pairs(cols, in, h.x[l].data(), in, Stored::Transposed,
                                           h.x_transposed[l].data(), bf16_pairs(cols));
      scvae::detail::gemm_bf16(out, in, bf16_pairs(cols), h.d_rows[l].data(),
                               h.x_transposed[l].data(), bf16_pairs(cols), h.dw[l].data(), out,
                               ProductWrite::Overwrite);
      if (layers[l].input_gradient) {
        scvae::detail::pack_columns_in_pairs(out, cols, h.d[l].data(), out, Stored::AsIs,
                                             h.d_columns[l].data(), bf16_pairs(out));
        scvae::detail::gemm_bf16(in, cols, bf16_pairs(out), w_transposed_rows[l].data(),
                                 h.d_columns[l].data(), bf16_pairs(out), h.dx[l].data(), in,
                                 ProductWrite::Overwrite);
      }
    }
    benchmark::ClobberMemory();
  };
  scvae::ThreadPool pool(threads);
  for (auto _ : state) {
    pool.run(threads, pack_weights);
    pool.run(threads, work);
  }
  state.SetLabel(scvae::detail::cpu_has_bf16() ? "avx512_bf16" : "scalar (no AVX512_BF16)");
  set_rates(state, n, vae_step_flops_per_sample());
}
BENCHMARK(BM_Bf16_Gemm_Reference)
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{128}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

/// SC-VAE: the image (Bernoulli, 784-400-20-400-784) and a label task
/// (Categorical, 20-400-10) with every other label masked. Args: batch, threads.
void BM_SCVAE_TrainStep(benchmark::State& state) {
  const Index n = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  scvae::ModelSpec spec = scvae::VAE::make_spec(kInputs, {kHidden}, kLatent);
  spec.tasks[0].name = "image";
  scvae::TaskSpec label;
  label.name = "label";
  label.outputs = 10;
  label.hidden = {kHidden};
  label.likelihood = scvae::LikelihoodSpec::categorical(10);
  spec.tasks.push_back(label);
  scvae::SCVAE model(spec, 1);
  model.set_threads(threads);
  scvae::Adam adam;
  const Mat x = images(n);
  scvae::RowVector<float> labels(n), mask(n);
  for (Index j = 0; j < n; ++j) {
    labels(j) = static_cast<float>(j % 10);
    mask(j) = j % 2 == 0 ? 1.0f : 0.0f;
  }
  const std::vector<scvae::TaskBatch<float>> targets{scvae::TaskBatch<float>(x),
                                                     scvae::TaskBatch<float>(labels, mask)};
  scvae::Rng rng(5);
  double loss = 0.0;
  for (auto _ : state) {
    loss += model.loss_and_gradient(x, targets, rng).total;
    adam.step(model.parameters(), model.gradients(), model.thread_pool());
  }
  benchmark::DoNotOptimize(loss);
  // The label decoder (20-400-10, from z) runs for every chunk with a label.
  const double label_flops = 2.0 * (kLatent * kHidden * 3.0 + kHidden * 10 * 3.0);
  set_rates(state, n, vae_step_flops_per_sample() + label_flops);
}
BENCHMARK(BM_SCVAE_TrainStep)
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{128}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// ------------------------------------------------------------------- optimizer

/// One Adam update over the VAE's 652,824 parameters (~650k), on 1 or 2
/// threads. Args: params, threads.
void BM_Adam_Update(benchmark::State& state) {
  const Index size = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  scvae::Vector<float> params = scvae::Vector<float>::Random(size);
  const scvae::Vector<float> grads = scvae::Vector<float>::Random(size);
  scvae::Adam adam;
  scvae::ThreadPool pool(threads);
  for (auto _ : state) {
    adam.step(params, grads, threads > 1 ? &pool : nullptr);
    benchmark::DoNotOptimize(params.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * size);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * size * 7 *
                          static_cast<std::int64_t>(sizeof(float)));
}
BENCHMARK(BM_Adam_Update)
    ->ArgNames({"params", "threads"})
    ->ArgsProduct({{652824}, {1, 2}})
    ->UseRealTime();

// ----------------------------------------------------------------- thread pool

/// One ThreadPool::run of an empty task on 2 threads: the fixed cost a
/// data-parallel step pays twice (chunks, then the gradient reduction).
void BM_ThreadPool_Run(benchmark::State& state) {
  scvae::ThreadPool pool(2);
  std::atomic<long> calls{0};
  auto task = [&](int) { calls.fetch_add(1, std::memory_order_relaxed); };
  for (auto _ : state) pool.run(2, task);
  benchmark::DoNotOptimize(calls.load());
}
BENCHMARK(BM_ThreadPool_Run)->UseRealTime();

// ------------------------------------------------------------------ evaluation

/// IWAE bound with k draws over 1,000 images in batches of 100. Args: k.
void BM_IWAE_Eval(benchmark::State& state) {
  const Index k = state.range(0);
  constexpr Index kImages = 1000;
  scvae::Rng pixel_rng(17);
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(kImages * kInputs));
  for (auto& p : pixels) p = static_cast<std::uint8_t>(pixel_rng.uniform_index(256));
  const scvae::Dataset data(28, 28, std::move(pixels));
  const scvae::AutoencoderSource<float> source(data);
  const scvae::VAE vae(kInputs, {kHidden}, kLatent, 1);
  double nll = 0.0;
  for (auto _ : state) {
    scvae::Rng rng(9);
    nll += scvae::evaluate_iwae(vae, source, k, 100, rng).nll;
  }
  benchmark::DoNotOptimize(nll);
  // Per image: one encoder pass, then k decoder passes (forward only).
  const double flops = 2.0 * (kInputs * kHidden + kHidden * 2 * kLatent) +
                       static_cast<double>(k) * 2.0 * (kLatent * kHidden + kHidden * kInputs);
  set_rates(state, kImages, flops);
}
BENCHMARK(BM_IWAE_Eval)->Arg(50)->ArgName("k")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
