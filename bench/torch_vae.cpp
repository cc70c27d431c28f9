// libtorch twin of examples/mnist_vae and bench/torch_vae.py (issue 24): the
// same models (--arch mlp|conv), flags, data reading and metrics.jsonl lines,
// written against Debian's libtorch-dev: what a C++ user would pick instead
// of scvae. bench/CMakeLists.txt builds it as `libtorch_vae` only when
// find_package(Torch) succeeds; bench/compare.sh runs it beside the PyTorch
// twin, with OPENBLAS_NUM_THREADS=1 for the same reason as that one.
//
// Like torch_vae.py, the loss is nats per sample (summed over pixels,
// averaged over the batch), train_seconds is the training loop alone and
// test_loss uses sampled z with a generator seeded by seed + 1000.

#include <dlfcn.h>
#include <link.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Version.h>
#include <torch/torch.h>

namespace {

struct Flags {
  std::string arch = "mlp";
  std::string data = "/usr/share/datasets/fashion-mnist";
  std::int64_t epochs = 10;
  std::int64_t batch = 128;
  std::int64_t hidden = 400;
  std::int64_t latent = 20;
  double lr = 1e-3;
  std::uint64_t seed = 1;
  std::int64_t threads = 0;
  std::int64_t limit = 0;
  std::string out = "runs/libtorch_vae";
  bool quiet = false;
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

constexpr const char* kUsage =
    "usage: libtorch_vae [--arch mlp|conv] [--data DIR] [--epochs N] [--batch N]\n"
    "                    [--hidden N] [--latent N] [--lr X] [--seed N] [--threads N]\n"
    "                    [--limit N] [--out DIR] [--quiet]\n";

std::int64_t parse_count(const std::string& flag, const std::string& text, std::int64_t min) {
  std::size_t used = 0;
  std::int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || used == 0 || value < min)
    throw UsageError(flag + ": expected an integer >= " + std::to_string(min) + ", got '" + text +
                     "'");
  return value;
}

Flags parse_flags(int argc, char** argv) {
  Flags f;
  bool hidden_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (flag == "--quiet") {
      f.quiet = true;
      continue;
    }
    if (i + 1 >= argc) throw UsageError(flag + ": expected a value, or unknown flag");
    const std::string value = argv[++i];
    if (flag == "--arch") {
      if (value != "mlp" && value != "conv")
        throw UsageError("--arch: expected mlp or conv, got '" + value + "'");
      f.arch = value;
    } else if (flag == "--data") {
      f.data = value;
    } else if (flag == "--epochs") {
      f.epochs = parse_count(flag, value, 1);
    } else if (flag == "--batch") {
      f.batch = parse_count(flag, value, 1);
    } else if (flag == "--hidden") {
      f.hidden = parse_count(flag, value, 1);
      hidden_given = true;
    } else if (flag == "--latent") {
      f.latent = parse_count(flag, value, 1);
    } else if (flag == "--lr") {
      std::size_t used = 0;
      try {
        f.lr = std::stod(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != value.size() || used == 0 || !(f.lr > 0))
        throw UsageError("--lr: expected a positive number, got '" + value + "'");
    } else if (flag == "--seed") {
      f.seed = static_cast<std::uint64_t>(parse_count(flag, value, 0));
    } else if (flag == "--threads") {
      f.threads = parse_count(flag, value, 0);
    } else if (flag == "--limit") {
      f.limit = parse_count(flag, value, 0);
    } else if (flag == "--out") {
      f.out = value;
    } else {
      throw UsageError("unknown flag '" + flag + "'");
    }
  }
  if (f.arch == "conv" && hidden_given)
    throw UsageError("--hidden: the MLP's width; --arch conv has fixed widths");
  return f;
}

/// An unsigned-byte IDX file (plain or gzip: zlib reads both) as a uint8
/// tensor of its dimensions; checks the header against the file's size.
torch::Tensor read_idx(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw std::runtime_error(path + ": cannot open");
  std::vector<unsigned char> bytes;
  unsigned char chunk[1 << 16];
  int got = 0;
  while ((got = gzread(file, chunk, sizeof chunk)) > 0)
    bytes.insert(bytes.end(), chunk, chunk + got);
  const bool failed = got < 0;
  gzclose(file);
  if (failed) throw std::runtime_error(path + ": read error (corrupt gzip stream?)");
  if (bytes.size() < 4) throw std::runtime_error(path + ": too short for an IDX header");
  if (bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08)
    throw std::runtime_error(path + ": not an unsigned-byte IDX file");
  const std::size_t ndim = bytes[3];
  const std::size_t offset = 4 + 4 * ndim;
  if (bytes.size() < offset) throw std::runtime_error(path + ": truncated IDX header");
  std::vector<std::int64_t> dims;
  std::size_t count = 1;
  for (std::size_t d = 0; d < ndim; ++d) {
    const unsigned char* p = &bytes[4 + 4 * d];
    dims.push_back((std::int64_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3]);
    count *= static_cast<std::size_t>(dims.back());
  }
  if (bytes.size() - offset != count)
    throw std::runtime_error(path + ": header says " + std::to_string(count) +
                             " bytes, file holds " + std::to_string(bytes.size() - offset));
  return torch::from_blob(bytes.data() + offset, dims, torch::kUInt8).clone();
}

std::string find_images(const std::string& directory, const std::string& split) {
  for (const char* suffix : {"-images-idx3-ubyte.gz", "-images-idx3-ubyte"}) {
    const std::filesystem::path path = std::filesystem::path(directory) / (split + suffix);
    if (std::filesystem::exists(path)) return path.string();
  }
  throw std::runtime_error(directory + ": no " + split + "-images-idx3-ubyte[.gz]");
}

/// Both architectures: encode to (mu, logvar), decode z to Bernoulli logits.
struct VaeNet : torch::nn::Module {
  virtual std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& x) = 0;
  virtual torch::Tensor decode(const torch::Tensor& z) = 0;
  virtual std::string description() const = 0;
};

struct MlpVae final : VaeNet {
  MlpVae(std::int64_t inputs, std::int64_t hidden, std::int64_t latent)
      : fc1(register_module("fc1", torch::nn::Linear(inputs, hidden))),
        fc21(register_module("fc21", torch::nn::Linear(hidden, latent))),
        fc22(register_module("fc22", torch::nn::Linear(hidden, latent))),
        fc3(register_module("fc3", torch::nn::Linear(latent, hidden))),
        fc4(register_module("fc4", torch::nn::Linear(hidden, inputs))),
        shape(std::to_string(inputs) + "-" + std::to_string(hidden) + "-" + std::to_string(latent) +
              "-" + std::to_string(hidden) + "-" + std::to_string(inputs)) {}

  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& x) override {
    const torch::Tensor h = torch::relu(fc1->forward(x));
    return {fc21->forward(h), fc22->forward(h)};
  }
  torch::Tensor decode(const torch::Tensor& z) override {
    return fc4->forward(torch::relu(fc3->forward(z)));
  }
  std::string description() const override { return shape; }

  torch::nn::Linear fc1, fc21, fc22, fc3, fc4;
  std::string shape;
};

/// mnist_vae's --arch conv (issue 20); images arrive as (batch, 1, 28, 28).
struct ConvVae final : VaeNet {
  explicit ConvVae(std::int64_t latent_size) : latent(latent_size) {
    using torch::nn::Conv2dOptions;
    using torch::nn::ConvTranspose2dOptions;
    // One statement per layer: the order of a call's arguments is unspecified,
    // and drawing the initial weights in torch_vae.py's order gives its bits.
    encoder = register_module("encoder", torch::nn::Sequential());
    encoder->push_back(torch::nn::Conv2d(Conv2dOptions(1, 32, 4).stride(2).padding(1)));
    encoder->push_back(torch::nn::ReLU());
    encoder->push_back(torch::nn::Conv2d(Conv2dOptions(32, 64, 4).stride(2).padding(1)));
    encoder->push_back(torch::nn::ReLU());
    encoder->push_back(torch::nn::Flatten());
    encoder->push_back(torch::nn::Linear(3136, 256));
    encoder->push_back(torch::nn::ReLU());
    encoder->push_back(torch::nn::Linear(256, 2 * latent));
    decoder = register_module("decoder", torch::nn::Sequential());
    decoder->push_back(torch::nn::Linear(latent, 256));
    decoder->push_back(torch::nn::ReLU());
    decoder->push_back(torch::nn::Linear(256, 3136));
    decoder->push_back(torch::nn::ReLU());
    decoder->push_back(torch::nn::Unflatten(torch::nn::UnflattenOptions(1, {64, 7, 7})));
    decoder->push_back(
        torch::nn::ConvTranspose2d(ConvTranspose2dOptions(64, 32, 4).stride(2).padding(1)));
    decoder->push_back(torch::nn::ReLU());
    decoder->push_back(
        torch::nn::ConvTranspose2d(ConvTranspose2dOptions(32, 1, 4).stride(2).padding(1)));
  }

  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& x) override {
    const torch::Tensor out = encoder->forward(x);
    return {out.narrow(1, 0, latent), out.narrow(1, latent, latent)};
  }
  torch::Tensor decode(const torch::Tensor& z) override { return decoder->forward(z); }
  std::string description() const override {
    return "conv2d(32,4,2,1) relu conv2d(64,4,2,1) relu dense(256) relu gaussian(" +
           std::to_string(latent) +
           ") | dense(256) relu dense(3136) relu 64x7x7 conv_transpose2d(32,4,2,1) relu "
           "conv_transpose2d(1,4,2,1)";
  }

  std::int64_t latent;
  torch::nn::Sequential encoder{nullptr}, decoder{nullptr};
};

/// Per-batch sums of the Bernoulli NLL and of the KL, in nats.
std::pair<torch::Tensor, torch::Tensor> loss_parts(const torch::Tensor& logits,
                                                   const torch::Tensor& x, const torch::Tensor& mu,
                                                   const torch::Tensor& logvar) {
  torch::Tensor nll =
      torch::binary_cross_entropy_with_logits(logits, x, {}, {}, at::Reduction::Sum);
  torch::Tensor kl = -0.5 * torch::sum(1 + logvar - mu.pow(2) - logvar.exp());
  return {nll, kl};
}

int collect_blas_library(dl_phdr_info* info, std::size_t, void* paths) {
  const std::string path = info->dlpi_name != nullptr ? info->dlpi_name : "";
  const std::string name = path.substr(path.find_last_of('/') + 1);
  if (name.find("blas") != std::string::npos)
    static_cast<std::vector<std::string>*>(paths)->push_back(path);
  return 0;
}

/// The BLAS library this process loaded and, for OpenBLAS, its kernel.
std::string blas_description() {
  void* corename = dlsym(RTLD_DEFAULT, "openblas_get_corename");
  void* config = dlsym(RTLD_DEFAULT, "openblas_get_config");
  if (corename != nullptr && config != nullptr) {
    using Getter = char* (*)();
    Dl_info where{};
    const std::string path = dladdr(corename, &where) != 0 && where.dli_fname != nullptr
                                 ? where.dli_fname
                                 : "unknown path";
    return std::string(reinterpret_cast<Getter>(config)()) + ", kernel " +
           reinterpret_cast<Getter>(corename)() + " (" + path + ")";
  }
  std::vector<std::string> paths;
  dl_iterate_phdr(collect_blas_library, &paths);
  std::string list;
  for (const std::string& path : paths) list += (list.empty() ? "" : ", ") + path;
  return "not OpenBLAS: " + (list.empty() ? std::string("no BLAS library loaded") : list);
}

std::string cpu_capability() {
  std::istringstream config(at::show_config());
  for (std::string line; std::getline(config, line);) {
    const std::size_t colon = line.find(':');
    if (line.find("CPU capability usage") != std::string::npos && colon != std::string::npos)
      return line.substr(line.find_first_not_of(' ', colon + 1));
  }
  return "unknown";
}

std::string json_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

int run(const Flags& f) {
  const std::int64_t threads =
      f.threads > 0 ? f.threads : std::max<std::int64_t>(1, std::thread::hardware_concurrency());
  torch::set_num_threads(static_cast<int>(threads));
  torch::manual_seed(f.seed);
  torch::Tensor train = read_idx(find_images(f.data, "train"));
  const torch::Tensor test = read_idx(find_images(f.data, "t10k"));
  if (train.dim() != 3 || test.dim() != 3)
    throw std::runtime_error(f.data + ": expected 3-dimensional image files");
  if (f.limit > 0 && f.limit < train.size(0)) train = train.narrow(0, 0, f.limit);
  const std::int64_t features = train.size(1) * train.size(2);

  std::shared_ptr<VaeNet> model;
  std::vector<std::int64_t> sample_shape;
  if (f.arch == "conv") {
    if (train.size(1) != 28 || train.size(2) != 28)
      throw std::runtime_error("--arch conv: expected 28x28 images, " + f.data + " holds " +
                               std::to_string(train.size(1)) + "x" + std::to_string(train.size(2)));
    model = std::make_shared<ConvVae>(f.latent);
    sample_shape = {1, 28, 28};
  } else {
    model = std::make_shared<MlpVae>(features, f.hidden, f.latent);
    sample_shape = {features};
  }
  auto as_samples = [&](const torch::Tensor& images) {
    std::vector<std::int64_t> shape{images.size(0)};
    shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
    return images.reshape(shape).to(torch::kFloat32) / 255.0;
  };
  const torch::Tensor train_x = as_samples(train);
  const torch::Tensor test_x = as_samples(test);
  const std::int64_t train_count = train_x.size(0);
  const std::int64_t test_count = test_x.size(0);

  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(f.lr));
  std::filesystem::create_directories(f.out);
  const std::string metrics_path = (std::filesystem::path(f.out) / "metrics.jsonl").string();
  std::ofstream metrics(metrics_path);
  if (!metrics) throw std::runtime_error(metrics_path + ": cannot write");
  if (!f.quiet)
    std::cerr << "libtorch_vae: " << train_count << " training and " << test_count
              << " test images from " << f.data << "; " << model->description() << "; " << threads
              << " thread(s); libtorch " << TORCH_VERSION_MAJOR << "." << TORCH_VERSION_MINOR << "."
              << TORCH_VERSION_PATCH << "\n";
  std::cerr << "libtorch_vae: blas " << blas_description() << "; torch CPU capability "
            << cpu_capability() << ", mkldnn " << (at::hasMKLDNN() ? "on" : "off") << "\n";

  for (std::int64_t epoch = 1; epoch <= f.epochs; ++epoch) {
    model->train();
    const auto start = std::chrono::steady_clock::now();
    const torch::Tensor order = torch::randperm(train_count);
    double loss_sum = 0, kl_sum = 0;
    for (std::int64_t begin = 0; begin < train_count; begin += f.batch) {
      const std::int64_t size = std::min(f.batch, train_count - begin);
      const torch::Tensor x = train_x.index_select(0, order.narrow(0, begin, size));
      auto [mu, logvar] = model->encode(x);
      const torch::Tensor z = mu + torch::randn_like(mu) * torch::exp(0.5 * logvar);
      auto [nll, kl] = loss_parts(model->decode(z), x, mu, logvar);
      const torch::Tensor loss = (nll + kl) / static_cast<double>(size);
      // As torch_vae.py's zero_grad(set_to_none=True): no memset per step.
      for (torch::Tensor& parameter : model->parameters())
        parameter.mutable_grad() = torch::Tensor();
      loss.backward();
      optimizer.step();
      loss_sum += (nll + kl).item<double>();
      kl_sum += kl.item<double>();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    model->eval();
    at::Generator noise = at::detail::createCPUGenerator(f.seed + 1000);
    double test_sum = 0, test_kl = 0;
    {
      const torch::NoGradGuard no_grad;
      for (std::int64_t begin = 0; begin < test_count; begin += 500) {
        const torch::Tensor x =
            test_x.narrow(0, begin, std::min<std::int64_t>(500, test_count - begin));
        auto [mu, logvar] = model->encode(x);
        const torch::Tensor eps = torch::randn(mu.sizes(), noise);
        const torch::Tensor z = mu + eps * torch::exp(0.5 * logvar);
        auto [nll, kl] = loss_parts(model->decode(z), x, mu, logvar);
        test_sum += (nll + kl).item<double>();
        test_kl += kl.item<double>();
      }
    }
    const double train_loss = loss_sum / static_cast<double>(train_count);
    const double test_loss = test_sum / static_cast<double>(test_count);
    metrics << "{\"epoch\": " << epoch << ", \"train_seconds\": " << json_number(seconds)
            << ", \"train_loss\": " << json_number(train_loss)
            << ", \"train_kl\": " << json_number(kl_sum / static_cast<double>(train_count))
            << ", \"test_loss\": " << json_number(test_loss)
            << ", \"test_kl\": " << json_number(test_kl / static_cast<double>(test_count)) << "}\n"
            << std::flush;
    if (!f.quiet) {
      char line[128];
      std::snprintf(line, sizeof line, "epoch %lld: %.3f s, train_loss %.2f, test_loss %.2f\n",
                    static_cast<long long>(epoch), seconds, train_loss, test_loss);
      std::cerr << line;
    }
  }
  if (!metrics) throw std::runtime_error(metrics_path + ": write error");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_flags(argc, argv));
  } catch (const UsageError& e) {
    std::cerr << kUsage << "libtorch_vae: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "libtorch_vae: " << e.what() << "\n";
    return 1;
  }
}
