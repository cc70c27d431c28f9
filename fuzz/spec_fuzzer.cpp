// libFuzzer target for the model spec parsers (model/spec_parse.hpp), which
// read the architecture line of a checkpoint before load_model builds the
// model: parse_model_spec and parse_label_conditioned_spec on the fuzz input.
// scvae::Error is an expected refusal; a crash, a sanitizer report, another
// exception or a broken invariant of an accepted text is a finding. An
// accepted text is its spec's architecture() exactly, its parameter count is
// within kMaxSpecParameters and, for a small model, the built model's.
// Both ModelSpec lines are read: scvae-v1 (hidden sizes) and scvae-v2 (module
// text, whose networks the count builds with the library's registry).
// Seeds: fuzz/corpus/spec/.

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "scvae/model/label_conditioned_vae.hpp"
#include "scvae/model/scvae.hpp"
#include "scvae/model/spec_parse.hpp"

namespace {

// Building allocates the parameters and a gradient: keep it small.
constexpr std::uint64_t kBuildLimit = 20000;

template <typename Spec, typename Model, typename Parse>
void check(const std::string& text, const char* what, Parse&& parse) {
  scvae_fuzz::expect_only_scvae_errors(what, [&] {
    const Spec spec = parse(text);
    scvae_fuzz::require(spec.architecture() == text, "parse(text).architecture() == text");
    const std::uint64_t count = scvae::detail::described_parameter_count(spec, text);
    scvae_fuzz::require(count <= scvae::kMaxSpecParameters, "at most kMaxSpecParameters");
    if (count > kBuildLimit) return;
    const Model model(spec);
    scvae_fuzz::require(static_cast<std::uint64_t>(model.parameter_count()) == count,
                        "the built model has the counted parameters");
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  check<scvae::ModelSpec, scvae::SCVAET<float>>(text, "parse_model_spec", scvae::parse_model_spec);
  check<scvae::LabelConditionedSpec, scvae::LabelConditionedVAET<float>>(
      text, "parse_label_conditioned_spec", scvae::parse_label_conditioned_spec);
  return 0;
}
