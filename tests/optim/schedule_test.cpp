// Learning-rate schedules and the KL warm-up, at chosen 0-based epochs.

#include "scvae/optim/schedule.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

namespace {

constexpr double kTol = 1e-15;

TEST(ScheduleTest, ConstantIsConstant) {
  const scvae::ConstantSchedule schedule{0.01};
  EXPECT_EQ(schedule(0), 0.01);
  EXPECT_EQ(schedule(1000), 0.01);
  EXPECT_THROW(scvae::ConstantSchedule{-1.0}, scvae::ArgumentError);
  EXPECT_THROW(schedule(-1), scvae::ArgumentError);
}

TEST(ScheduleTest, StepDecaysEveryStepSizeEpochs) {
  const scvae::StepSchedule schedule{0.1, 3, 0.5};
  EXPECT_NEAR(schedule(0), 0.1, kTol);
  EXPECT_NEAR(schedule(2), 0.1, kTol);
  EXPECT_NEAR(schedule(3), 0.05, kTol);
  EXPECT_NEAR(schedule(5), 0.05, kTol);
  EXPECT_NEAR(schedule(6), 0.025, kTol);
  EXPECT_NEAR(schedule(9), 0.0125, kTol);
  EXPECT_THROW((scvae::StepSchedule{0.1, 0, 0.5}), scvae::ArgumentError);
  EXPECT_THROW((scvae::StepSchedule{0.1, 3, -0.5}), scvae::ArgumentError);
  EXPECT_THROW((scvae::StepSchedule{-0.1, 3, 0.5}), scvae::ArgumentError);
  EXPECT_THROW(schedule(-2), scvae::ArgumentError);
}

TEST(ScheduleTest, CosineGoesFromBaseToMin) {
  const scvae::CosineSchedule schedule{0.1, 10, 0.001};
  EXPECT_NEAR(schedule(0), 0.1, kTol);
  // Halfway: cos(pi / 2) = 0, so min + (base - min) / 2.
  EXPECT_NEAR(schedule(5), 0.001 + 0.099 / 2.0, kTol);
  // Epoch 2: cos(pi / 5) = 0.80901699437494742.
  EXPECT_NEAR(schedule(2), 0.001 + 0.099 * (1.0 + 0.80901699437494742) / 2.0, kTol);
  EXPECT_NEAR(schedule(10), 0.001, kTol);
  EXPECT_EQ(schedule(25), 0.001);  // stays at min after total
  EXPECT_GT(schedule(3), schedule(4));

  const scvae::CosineSchedule to_zero{0.2, 4};
  EXPECT_NEAR(to_zero(2), 0.1, kTol);
  EXPECT_EQ(to_zero(4), 0.0);

  EXPECT_THROW((scvae::CosineSchedule{0.1, 0, 0.0}), scvae::ArgumentError);
  EXPECT_THROW((scvae::CosineSchedule{0.1, 10, 0.2}), scvae::ArgumentError);  // min > base
  EXPECT_THROW((scvae::CosineSchedule{0.1, 10, -0.01}), scvae::ArgumentError);
  EXPECT_THROW(schedule(-1), scvae::ArgumentError);
}

TEST(ScheduleTest, KlWarmupRisesLinearlyFromTheFirstEpoch) {
  const scvae::KlWarmup warmup{2.0, 4};  // beta * min(1, (epoch + 1) / 4)
  EXPECT_NEAR(warmup(0), 0.5, kTol);
  EXPECT_NEAR(warmup(1), 1.0, kTol);
  EXPECT_NEAR(warmup(2), 1.5, kTol);
  EXPECT_EQ(warmup(3), 2.0);
  EXPECT_EQ(warmup(100), 2.0);
  EXPECT_THROW(warmup(-1), scvae::ArgumentError);
}

TEST(ScheduleTest, KlWarmupZeroEpochsMeansNoWarmup) {
  const scvae::KlWarmup none{0.5, 0};
  EXPECT_EQ(none(0), 0.5);
  EXPECT_EQ(none(7), 0.5);
  const scvae::KlWarmup one{0.5, 1};
  EXPECT_EQ(one(0), 0.5);
  EXPECT_THROW((scvae::KlWarmup{-1.0, 3}), scvae::ArgumentError);
  EXPECT_THROW((scvae::KlWarmup{1.0, -3}), scvae::ArgumentError);
}

TEST(ScheduleTest, SchedulesAreCopyableValuesUsableAsFunctions) {
  scvae::StepSchedule schedule{1.0, 1, 0.5};
  const scvae::StepSchedule copy = schedule;
  schedule = scvae::StepSchedule{2.0, 1, 0.5};
  EXPECT_EQ(copy(1), 0.5);
  EXPECT_EQ(schedule(1), 1.0);
  const std::function<double(long)> as_function = scvae::CosineSchedule{1.0, 2};
  EXPECT_NEAR(as_function(1), 0.5, kTol);
}

}  // namespace
