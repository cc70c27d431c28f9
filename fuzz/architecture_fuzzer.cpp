// libFuzzer target for the architecture parser (nn/parse.hpp), which reads
// network text from checkpoint files: parse_network on the fuzz input, on an
// image-shaped and a vector input. scvae::Error is an expected refusal; a
// crash, a sanitizer report (stack overflow, overflowing count), another
// exception or a broken invariant of an accepted text is a finding. An
// accepted network must parse back from its token() to the same token,
// parameter count and, when small, the same forward bits. Seeds:
// fuzz/corpus/architecture/.

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "scvae/nn/parse.hpp"

namespace {

void check_network(const std::string& text, const scvae::Shape& input) {
  scvae_fuzz::expect_only_scvae_errors("parse_network", [&] {
    const auto network = scvae::parse_network<float>(text, input);
    const std::string token = network->token();
    const auto again = scvae::parse_network<float>(token, input);
    scvae_fuzz::require(again->token() == token, "parse(token()) has the same token");
    scvae_fuzz::require(again->parameter_count() == network->parameter_count(),
                        "parse(token()) has the same parameter count");
    scvae_fuzz::require(again->output_shape() == network->output_shape(),
                        "parse(token()) has the same output shape");
    // No module without parameters shrinks its input, so bounding the
    // parameters and the output bounds every buffer of a forward pass.
    const scvae::Index limit = 20000;
    if (network->parameter_count() > limit || network->outputs() > limit) return;
    scvae::Vector<float> parameters(network->parameter_count());
    scvae::Rng rng(1);
    network->initialize(parameters.data(), rng, {});
    // Zeros: a valid class (0) for a leading onehot.
    const scvae::Matrix<float> x = scvae::Matrix<float>::Zero(network->inputs(), 2);
    scvae::Matrix<float> y(network->outputs(), 2), y_again(network->outputs(), 2);
    auto workspace = network->make_workspace();
    auto workspace_again = again->make_workspace();
    network->forward(parameters.data(), x, y, workspace.get());
    again->forward(parameters.data(), x, y_again, workspace_again.get());
    scvae_fuzz::require(y == y_again, "parse(token()) computes the same output");
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  check_network(text, scvae::Shape(3, 2, 2));
  check_network(text, scvae::Shape::vector(12));
  return 0;
}
