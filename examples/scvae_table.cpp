// scvae_table: an SC-VAE for any table, with no code.
//   scvae_table train --data train.csv --target NAME:KIND ... --out DIR
// writes DIR/model.scvae (the model with its standardisation and columns),
// DIR/metrics.jsonl (per epoch: train and validation loss, per task accuracy
// or RMSE and MAE on the test part, standardised and in the table's units,
// and with --balance uncertainty or gradnorm each task's learned weight balance_weight_NAME),
// DIR/curves.png (train and test loss and accuracy per epoch, redrawn every
// epoch) and DIR/latent.png (the test rows' latent means);
//   scvae_table predict --model DIR/model.scvae --data new.csv --out predictions.csv
// writes the input columns and, per target, its prediction for every row
// (NAME_predicted, and NAME_probability for a class or a 0/1 value).
// Under mpirun, `train --distributed` trains on every rank
// (examples/distributed_run.hpp): each rank reads the table itself, rank 0
// writes. `predict` runs in one process.

#include <cstdio>

#include "scvae/data/csv_write.hpp"
#include "scvae/data/table_predict.hpp"
#include "distributed_run.hpp"
#include "pictures_wiring.hpp"
#include "table_flags.hpp"

namespace {

using scvae::Index;
constexpr const char* kProgram = "scvae_table";

/// Training rows and test rows, read with the same columns.
struct TrainTest {
  scvae::TableData train;
  scvae::TableData test;
};

TrainTest read_train_test(const examples::TableTrainFlags& f,
                          const scvae::TableColumns& columns) {
  const scvae::TableData data = scvae::table_data_from_csv(scvae::read_csv(f.data), columns);
  if (!f.test.empty())  // the test table read as the training one was
    return {data, scvae::table_data_from_csv(scvae::read_csv(f.test), scvae::table_schema(data))};
  scvae::SplitKind kind = scvae::SplitKind::shuffled();
  for (const scvae::TableTarget& t : data.targets())
    if (t.kind == scvae::TargetKind::Categorical) {
      kind = scvae::SplitKind::stratified(t.name);
      break;
    }
  scvae::TableSplit split = scvae::split_table(data, f.test_split, f.seed, kind);
  return {std::move(split.train), std::move(split.test)};
}

/// The categories of the first categorical target (the classes of
/// latent.png), or none.
std::vector<std::string> first_class_names(const scvae::TableData& rows) {
  for (const scvae::TableTarget& t : rows.targets())
    if (t.kind == scvae::TargetKind::Categorical) return t.categories;
  return {};
}

int train(const examples::TableTrainFlags& flags_given, const examples::DistributedRun& distributed) {
  examples::TableTrainFlags f = flags_given;
  if (f.threads == 0) f.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  scvae::TableColumns columns;
  for (const std::string& text : f.targets) columns.targets.push_back(examples::parse_target_flag(text));
  columns.features = f.features;
  columns.ignore = f.ignore;
  const auto lock = distributed.lock_output(f.out);
  const TrainTest data = read_train_test(f, columns);
  examples::check_table_model_size(data.train, f);
  f.batch = std::min(f.batch, data.train.samples());

  const scvae::Standardizer standardizer = scvae::Standardizer::fit(data.train);
  const scvae::TableSchema schema = scvae::table_schema(data.train);
  const scvae::TableSource<float> train_source(data.train, standardizer);
  const scvae::TableSource<float> test_source(data.test, standardizer);
  const scvae::TablePrior prior = f.prior == "classes"    ? scvae::TablePrior::Classes
                                  : f.prior == "standard" ? scvae::TablePrior::Standard
                                                          : scvae::TablePrior::Auto;
  if (prior == scvae::TablePrior::Classes && first_class_names(data.train).empty())
    throw scvae::ArgumentError(
        "--prior classes: needs a categorical --target (the classes of its mixture), got none");
  scvae::ModelSpec spec = scvae::make_table_spec(data.train, f.latent, f.hidden, prior);
  // A --balance learns a factor on top of these weights: from weight 1
  // GradNorm ended 4 points behind them on iris (examples/RESULTS-balance.md).
  spec.initialization =
      f.init == "pytorch" ? scvae::Initialization::PyTorch : scvae::Initialization::HeGlorot;
  examples::apply_weight_flags(f.weights, spec);
  examples::set_balance(f.balance, spec);
  scvae::SCVAE model(spec, f.seed);
  scvae::Adam adam(scvae::AdamOptions{f.lr});
  scvae::TrainerOptions options;
  options.epochs = f.epochs;
  options.batch_size = f.batch;
  options.seed = f.seed;
  options.threads = f.threads;
  options.beta = f.beta;
  options.precision = examples::chosen_precision(f.precision, kProgram, f.quiet);
  // Every rank splits, standardises and initialises alike from the same
  // table and seed; the check finds ranks whose tables differ in size.
  Index first_epoch = 0;
  distributed.start(model, adam, data.train.samples(), options, first_epoch);
  const bool prints = !f.quiet && distributed.writes();
  if (prints)
    std::cerr << kProgram << ": " << data.train.samples() << " training and "
              << data.test.samples() << " test rows, " << data.train.feature_count()
              << " features, " << data.train.target_count() << " target(s); "
              << model.architecture() << "; " << f.threads << " thread(s), "
              << scvae::precision_name(options.precision)
              << distributed.ranks_text() << "\n";

  const std::string save = (std::filesystem::path(f.out) / "model.scvae").string();
  scvae::Trainer trainer(model, adam, options);
  trainer.add_callback(std::make_unique<examples::StopOnSignal>());
  // Validation RMSE and MAE are in standardised units; a CSV target's one
  // scale turns them into the table's.
  trainer.add_callback(std::make_unique<scvae::EpochCallback>([&](scvae::EpochReport& r) {
    for (Index t = 0; t < data.train.target_count(); ++t) {
      const std::string prefix = "validation_" + data.train.target(t).name + "_";
      if (data.train.target(t).kind != scvae::TargetKind::Real || !r.has(prefix + "rmse")) continue;
      const double scale = standardizer.target_scale(t)(0);
      r.set(prefix + "rmse_original_units", r.get(prefix + "rmse") * scale);
      r.set(prefix + "mae_original_units", r.get(prefix + "mae") * scale);
    }
    return false;
  }));
  examples::report_balance_weights(trainer, model);
  if (prints) trainer.add_callback(std::make_unique<scvae::ProgressBar>());
  if (distributed.writes()) {
    // Every epoch's checkpoint carries the table's standardisation and
    // columns, so that whichever one a run leaves behind can predict.
    trainer.add_callback(std::make_unique<scvae::CheckpointEveryEpoch<scvae::SCVAE, scvae::Adam>>(
        save, model, adam, [&](scvae::CheckpointExtras& extras) {
          standardizer.save(extras);
          scvae::save_table_schema(schema, extras);
        }));
    trainer.add_callback(std::make_unique<examples::RecordCheckpoint>(save));
    trainer.add_callback(std::make_unique<scvae::MetricsWriter>(
        (std::filesystem::path(f.out) / "metrics.jsonl").string()));
    examples::add_curves(trainer, f.out, 0);
  }
  trainer.fit(train_source, test_source);
  if (!distributed.writes()) return 0;
  // Coloured by the first categorical target: the model's first categorical task.
  examples::write_latent_png(model, test_source, f.batch, f.out, first_class_names(data.test));
  if (prints)
    std::cerr << kProgram << ": wrote " << save << ", metrics.jsonl, curves.png and latent.png to "
              << f.out << "\n";
  return 0;
}

std::string number_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

int predict(const examples::TablePredictFlags& f) {
  scvae::CheckpointExtras extras;
  const scvae::SCVAE model = scvae::load_model<float>(f.model, &extras);
  const scvae::Standardizer standardizer = scvae::Standardizer::load(extras);
  const scvae::TableSchema schema = scvae::load_table_schema(extras);
  const scvae::CsvTable table = scvae::read_csv(f.data);
  for (const scvae::FeatureSource& feature : schema.features)
    if (!table.has_column(feature.column))
      throw scvae::FormatError(table.source() + ": no column \"" + feature.column +
                               "\", a feature of the model " + f.model);
  const scvae::TablePrediction prediction = scvae::predict_table(
      model, standardizer, schema, scvae::table_data_from_csv<float>(table, schema));

  std::vector<std::string> names = table.column_names();
  std::vector<std::vector<std::string>> cells;
  for (Index c = 0; c < table.cols(); ++c) cells.push_back(table.column(c));
  const auto add_column = [&](const std::string& name, std::vector<std::string> column) {
    if (table.has_column(name))
      throw scvae::FormatError(table.source() + ": column \"" + name +
                               "\" would be overwritten by the predictions; rename it");
    names.push_back(name);
    cells.push_back(std::move(column));
  };
  const std::size_t n = static_cast<std::size_t>(table.rows());
  for (const scvae::TargetPrediction& p : prediction.targets) {
    for (Index r = 0; r < p.values.rows(); ++r) {
      const std::string suffix = p.values.rows() > 1 ? "_" + std::to_string(r) : "";
      std::vector<std::string> value(n), probability(n);
      for (std::size_t j = 0; j < n; ++j) {
        const Index i = static_cast<Index>(j);
        value[j] = p.kind == scvae::TargetKind::Categorical ? p.class_names[j]
                                                             : number_text(p.values(r, i));
        if (p.probability.size() > 0) probability[j] = number_text(p.probability(r, i));
      }
      add_column(p.name + suffix + "_predicted", std::move(value));
      if (p.probability.size() > 0) add_column(p.name + suffix + "_probability", std::move(probability));
    }
  }
  std::vector<std::size_t> lines;
  for (Index r = 0; r < table.rows(); ++r) lines.push_back(table.line_of_row(r));
  scvae::write_csv(f.out, scvae::CsvTable(f.out, names, std::move(cells), std::move(lines)));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  examples::DistributedRun distributed(argc, argv, "train");
  CLI::App app{"An SC-VAE for any table: train it on a CSV file, or predict with it."};
  app.require_subcommand(1);
  examples::TableTrainFlags train_flags;
  examples::TablePredictFlags predict_flags;
  CLI::App* train_command = app.add_subcommand(
      "train", "Train on a CSV table; write model.scvae, metrics.jsonl, curves.png and latent.png to --out");
  examples::add_table_train_flags(*train_command, train_flags);
  distributed.add_flag(*train_command);
  CLI::App* predict_command = app.add_subcommand(
      "predict", "Predict every target of a trained model for the rows of a CSV table");
  examples::add_table_predict_flags(*predict_command, predict_flags);
  const std::string program = distributed.program(kProgram);
  return distributed.finish(examples::run_main(program.c_str(), app, argc, argv, [&] {
    if (!train_command->parsed()) {
      examples::refuse_distributed_predict(predict_flags);
      return predict(predict_flags);
    }
    distributed.check_available();
    examples::refuse_gradnorm_alpha_without_gradnorm(*train_command, train_flags.balance);
    return train(train_flags, distributed);
  }));
}
