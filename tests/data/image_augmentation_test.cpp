#include "scvae/data/image_augmentation.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <utility>

#include "../test_support.hpp"

namespace scvae {
namespace {

/// What move_image must give, written the plain way: a second buffer.
Vector<float> moved_by_copy(const Shape& shape, const ImageMove& move, const Vector<float>& image) {
  Vector<float> out = Vector<float>::Zero(image.size());
  const Index rows = shape.height, cols = shape.width;
  for (Index c = 0; c < shape.channels; ++c)
    for (Index r = 0; r < rows; ++r)
      for (Index x = 0; x < cols; ++x) {
        const Index from_r = r - move.down, from_x = x - move.right;
        if (from_r < 0 || from_r >= rows || from_x < 0 || from_x >= cols) continue;
        const Index mirrored_x = move.mirror ? cols - 1 - from_x : from_x;
        out(c * rows * cols + r * cols + x) = image(c * rows * cols + from_r * cols + mirrored_x);
      }
  return out;
}

TEST(ImageAugmentation, AShiftMovesPixelsAndUncoversZeros) {
  const Shape shape(1, 3, 3);
  Vector<float> image(9);
  image << 1, 2, 3,  //
      4, 5, 6,       //
      7, 8, 9;
  Vector<float> right = image;
  move_image(shape, ImageMove{0, 1, false}, right);
  EXPECT_EQ(right, (Vector<float>(9) << 0, 1, 2, 0, 4, 5, 0, 7, 8).finished());
  Vector<float> up_left = image;
  move_image(shape, ImageMove{-1, -1, false}, up_left);
  EXPECT_EQ(up_left, (Vector<float>(9) << 5, 6, 0, 8, 9, 0, 0, 0, 0).finished());
  Vector<float> mirrored = image;
  move_image(shape, ImageMove{0, 0, true}, mirrored);
  EXPECT_EQ(mirrored, (Vector<float>(9) << 3, 2, 1, 6, 5, 4, 9, 8, 7).finished());
}

// In place, every direction, odd and even sizes, several channels.
TEST(ImageAugmentation, InPlaceEqualsACopyForEveryMove) {
  for (const Shape& shape : {Shape(2, 5, 4), Shape(1, 4, 7), Shape(3, 6, 6)}) {
    Rng rng(3);
    Vector<float> image(shape.features());
    for (Index i = 0; i < image.size(); ++i) image(i) = static_cast<float>(rng.uniform());
    for (Index down = -3; down <= 3; ++down)
      for (Index right = -3; right <= 3; ++right)
        for (bool mirror : {false, true}) {
          const ImageMove move{down, right, mirror};
          Vector<float> in_place = image;
          move_image(shape, move, in_place);
          EXPECT_EQ(in_place, moved_by_copy(shape, move, image))
              << shape.text() << " down " << down << " right " << right << " mirror " << mirror;
        }
  }
}

TEST(ImageAugmentation, DrawsCoverTheRangeAndDependOnSampleAndPosition) {
  ImageAugmentation a;
  a.max_shift = 2;
  a.horizontal_flip = true;
  std::set<Index> downs, rights;
  int mirrors = 0;
  const int draws = 4000;
  for (int k = 0; k < draws; ++k) {
    const ImageMove m = draw_image_move(a, 7, k % 100, k);
    downs.insert(m.down);
    rights.insert(m.right);
    mirrors += m.mirror ? 1 : 0;
  }
  EXPECT_EQ(downs, (std::set<Index>{-2, -1, 0, 1, 2}));
  EXPECT_EQ(rights, (std::set<Index>{-2, -1, 0, 1, 2}));
  EXPECT_NEAR(mirrors, draws / 2, 200);

  // The same key, the same draw; a draw of 5 x 5 x 2 outcomes differs for
  // most other keys.
  auto same = [](const ImageMove& p, const ImageMove& q) {
    return p.down == q.down && p.right == q.right && p.mirror == q.mirror;
  };
  EXPECT_TRUE(same(draw_image_move(a, 7, 3, 10), draw_image_move(a, 7, 3, 10)));
  int differ_by_position = 0, differ_by_sample = 0, differ_by_seed = 0;
  for (Index k = 0; k < 200; ++k) {
    differ_by_position += same(draw_image_move(a, 7, 3, k), draw_image_move(a, 7, 3, k + 1)) ? 0 : 1;
    differ_by_sample += same(draw_image_move(a, 7, k, 5), draw_image_move(a, 7, k + 1, 5)) ? 0 : 1;
    differ_by_seed += same(draw_image_move(a, 7, k, 5), draw_image_move(a, 8, k, 5)) ? 0 : 1;
  }
  EXPECT_GT(differ_by_position, 180);
  EXPECT_GT(differ_by_sample, 180);
  EXPECT_GT(differ_by_seed, 180);

  const ImageMove still = draw_image_move(ImageAugmentation{}, 7, 3, 10);
  EXPECT_TRUE(same(still, ImageMove{}));
}

/// What erase_square must give: each pixel tested against the square.
Vector<float> erased_by_test(const Shape& shape, Index size, const ImagePixel& centre,
                             const Vector<float>& image) {
  Vector<float> out = image;
  const Index first_row = centre.row - size / 2, first_column = centre.column - size / 2;
  for (Index c = 0; c < shape.channels; ++c)
    for (Index r = 0; r < shape.height; ++r)
      for (Index x = 0; x < shape.width; ++x)
        if (r >= first_row && r < first_row + size && x >= first_column && x < first_column + size)
          out(c * shape.height * shape.width + r * shape.width + x) = 0;
  return out;
}

TEST(ImageAugmentation, ErasingZeroesASquareClippedAtTheEdges) {
  const Shape shape(1, 4, 4);
  Vector<float> image = Vector<float>::LinSpaced(16, 1, 16);
  Vector<float> corner = image;
  erase_square(shape, 3, ImagePixel{0, 0}, corner);  // rows and columns -1..1
  EXPECT_EQ(
      corner,
      (Vector<float>(16) << 0, 0, 3, 4, 0, 0, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16).finished());
  Vector<float> middle = image;
  erase_square(shape, 2, ImagePixel{2, 2}, middle);  // rows and columns 1..2
  EXPECT_EQ(middle,
            (Vector<float>(16) << 1, 2, 3, 4, 5, 0, 0, 8, 9, 0, 0, 12, 13, 14, 15, 16).finished());
  Vector<float> none = image;
  erase_square(shape, 0, ImagePixel{1, 1}, none);
  EXPECT_EQ(none, image);

  for (const Shape& s : {Shape(2, 5, 4), Shape(3, 6, 7)}) {
    Rng rng(4);
    Vector<float> values(s.features());
    for (Index i = 0; i < values.size(); ++i) values(i) = 1.0f + static_cast<float>(rng.uniform());
    for (Index size = 1; size <= 5; ++size)
      for (Index r = 0; r < s.height; ++r)
        for (Index x = 0; x < s.width; ++x) {
          Vector<float> erased = values;
          erase_square(s, size, ImagePixel{r, x}, erased);
          EXPECT_EQ(erased, erased_by_test(s, size, ImagePixel{r, x}, values))
              << s.text() << " size " << size << " centre " << r << "," << x;
        }
  }
}

TEST(ImageAugmentation, EraseCentresCoverTheImageAndDependOnSampleAndPosition) {
  const Shape shape(1, 3, 5);
  std::set<std::pair<Index, Index>> centres;
  for (int k = 0; k < 2000; ++k) {
    const ImagePixel p = draw_erase_centre(shape, 7, k % 100, k);
    ASSERT_TRUE(p.row >= 0 && p.row < 3 && p.column >= 0 && p.column < 5);
    centres.insert({p.row, p.column});
  }
  EXPECT_EQ(centres.size(), 15u);
  auto same = [](const ImagePixel& p, const ImagePixel& q) {
    return p.row == q.row && p.column == q.column;
  };
  EXPECT_TRUE(same(draw_erase_centre(shape, 7, 3, 10), draw_erase_centre(shape, 7, 3, 10)));
  int differ_by_position = 0, differ_by_sample = 0, differ_by_seed = 0;
  for (Index k = 0; k < 200; ++k) {
    differ_by_position +=
        same(draw_erase_centre(shape, 7, 3, k), draw_erase_centre(shape, 7, 3, k + 1)) ? 0 : 1;
    differ_by_sample +=
        same(draw_erase_centre(shape, 7, k, 5), draw_erase_centre(shape, 7, k + 1, 5)) ? 0 : 1;
    differ_by_seed +=
        same(draw_erase_centre(shape, 7, k, 5), draw_erase_centre(shape, 8, k, 5)) ? 0 : 1;
  }
  // 15 outcomes: a pair agrees by chance about once in 15.
  EXPECT_GT(differ_by_position, 160);
  EXPECT_GT(differ_by_sample, 160);
  EXPECT_GT(differ_by_seed, 160);
}

/// Twelve 6x6 images, two of them labelled: what the source tests augment.
struct TwelveImages {
  static std::vector<std::uint8_t> two_labelled() {
    std::vector<std::uint8_t> labelled(12, 0);
    labelled[1] = labelled[4] = 1;
    return labelled;
  }
  Dataset data = testing::make_images(12);
  PartlyLabelledSource<float> source{data, two_labelled()};
};

TEST(AugmentedImageSource, ErasesFromTheInputOnlyAndKeepsTheMoves) {
  const TwelveImages images;
  const PartlyLabelledSource<float>& inner = images.source;
  ImageAugmentation moves;
  moves.max_shift = 1;
  moves.horizontal_flip = true;
  ImageAugmentation erasing = moves;
  erasing.erase_size = 3;
  const Shape shape(1, 6, 6);
  const AugmentedImageSource<float> moved_only(inner, shape, moves, 21);
  const AugmentedImageSource<float> source(inner, shape, erasing, 21);

  const std::vector<Index> order{5, 1, 4, 0, 11, 2, 3, 6, 7, 8, 9, 10};
  Batch<float> plain, moved, erased;
  inner.fill(order, 2, 7, plain);
  moved_only.fill(order, 2, 7, moved);
  source.fill(order, 2, 7, erased);
  ASSERT_FALSE(erased.target_is_input[0]);
  EXPECT_EQ(erased.target(0), moved.x) << "the image task reconstructs the whole moved image";
  EXPECT_EQ(erased.target(1), plain.target(1));
  EXPECT_EQ(erased.masks[1], plain.masks[1]);
  int erased_pixels = 0;
  for (Index j = 0; j < 5; ++j) {
    const Index position = 2 + j;
    const ImagePixel centre =
        draw_erase_centre(shape, 21, order[static_cast<std::size_t>(position)], position);
    const Vector<float> column = moved.x.col(j);
    EXPECT_EQ(Vector<float>(erased.x.col(j)), erased_by_test(shape, 3, centre, column))
        << "column " << j;
    erased_pixels += static_cast<int>((erased.x.col(j).array() != moved.x.col(j).array()).count());
  }
  EXPECT_GT(erased_pixels, 0);

  // Split in two, the same draws; filled again into the same batch, the same.
  Batch<float> first, second;
  source.fill(order, 2, 4, first);
  source.fill(order, 4, 7, second);
  EXPECT_EQ(first.x, erased.x.leftCols(2));
  EXPECT_EQ(second.x, erased.x.rightCols(3));
  EXPECT_EQ(second.target(0), moved.x.rightCols(3));
  source.fill(order, 2, 7, first);
  EXPECT_EQ(first.x, erased.x);
  EXPECT_EQ(first.target(0), moved.x);
}

TEST(AugmentedImageSource, MovesTheImagesOnlyAndDrawsFromSamplePositionAndSeed) {
  const TwelveImages images;
  const PartlyLabelledSource<float>& inner = images.source;
  ImageAugmentation a;
  a.max_shift = 1;
  a.horizontal_flip = true;
  const Shape shape(1, 6, 6);
  const AugmentedImageSource<float> source(inner, shape, a, 21);
  EXPECT_EQ(source.size(), 12);
  EXPECT_EQ(source.task_count(), 2);

  std::vector<Index> order{5, 1, 4, 0, 11, 2, 3, 6, 7, 8, 9, 10};
  Batch<float> plain, moved, again;
  inner.fill(order, 2, 7, plain);
  source.fill(order, 2, 7, moved);
  source.fill(order, 2, 7, again);
  EXPECT_EQ(moved.x, again.x) << "the same batch, the same draws";
  EXPECT_EQ(moved.targets[1], plain.targets[1]);
  EXPECT_EQ(moved.masks[1], plain.masks[1]);
  EXPECT_TRUE(moved.target_is_input[0]) << "the image task reconstructs the moved image";
  int changed = 0;
  for (Index j = 0; j < 5; ++j) {
    const Index position = 2 + j;
    const ImageMove m = draw_image_move(a, 21, order[static_cast<std::size_t>(position)], position);
    const Vector<float> column = plain.x.col(j);
    EXPECT_EQ(Vector<float>(moved.x.col(j)), moved_by_copy(shape, m, column)) << "column " << j;
    changed += moved.x.col(j) == plain.x.col(j) ? 0 : 1;
  }
  EXPECT_GT(changed, 0);

  // A batch split in two draws as the whole batch did (threads and ranks
  // fill different ranges of one order).
  Batch<float> first, second;
  source.fill(order, 2, 4, first);
  source.fill(order, 4, 7, second);
  EXPECT_EQ(first.x, moved.x.leftCols(2));
  EXPECT_EQ(second.x, moved.x.rightCols(3));
}

TEST(ImageAugmentation, AQuarterTurnIsClockwiseAndNoTurnChangesNothing) {
  const Shape shape(2, 4, 4);
  Vector<double> image(32);
  for (Index i = 0; i < 32; ++i) image(i) = static_cast<double>(i + 1);
  std::vector<double> scratch;
  Vector<double> same = image;
  rotate_image(shape, 0.0, same, scratch);
  EXPECT_EQ(same, image);
  Vector<double> turned = image;
  rotate_image(shape, 90.0, turned, scratch);
  // Clockwise: the left column, read upwards, becomes the top row.
  for (Index c = 0; c < 2; ++c)
    for (Index r = 0; r < 4; ++r)
      for (Index x = 0; x < 4; ++x)
        EXPECT_NEAR(turned(c * 16 + r * 4 + x), image(c * 16 + (3 - x) * 4 + r), 1e-12)
            << "channel " << c << ", pixel " << r << ", " << x;
}

TEST(ImageAugmentation, ATurnKeepsTheMiddleAndBringsZerosInAtTheCorners) {
  const Shape shape(1, 9, 9);
  const Vector<double> ones = Vector<double>::Ones(81);
  std::vector<double> scratch;
  for (const double degrees : {-30.0, 12.5, 45.0}) {
    Vector<double> turned = ones;
    rotate_image(shape, degrees, turned, scratch);
    for (Index r = 0; r < 9; ++r)
      for (Index x = 0; x < 9; ++x) {
        const double distance =
            std::hypot(static_cast<double>(r) - 4.0, static_cast<double>(x) - 4.0);
        // Within 2.5 pixels of the centre every neighbour is inside: the
        // weights of a constant image add up to it.
        if (distance <= 2.5) {
          EXPECT_NEAR(turned(r * 9 + x), 1.0, 1e-12) << degrees << " degrees, " << r << ", " << x;
        }
        EXPECT_GE(turned(r * 9 + x), -1e-12);
        EXPECT_LE(turned(r * 9 + x), 1.0 + 1e-12);
      }
    EXPECT_LT(turned(0), 0.5) << degrees << " degrees: the corner comes from outside";
  }
}

TEST(ImageAugmentation, TurnsAreDrawnInRangeFromSampleAndPosition) {
  double low = 0.0, high = 0.0;
  std::set<double> seen;
  for (Index sample = 0; sample < 200; ++sample) {
    const double degrees = draw_rotation_degrees(10.0, 3, sample, 7);
    EXPECT_GE(degrees, -10.0);
    EXPECT_LE(degrees, 10.0);
    low = std::min(low, degrees);
    high = std::max(high, degrees);
    seen.insert(degrees);
    EXPECT_EQ(degrees, draw_rotation_degrees(10.0, 3, sample, 7));
  }
  EXPECT_LT(low, -9.0);
  EXPECT_GT(high, 9.0);
  EXPECT_EQ(seen.size(), 200u);
  EXPECT_NE(draw_rotation_degrees(10.0, 3, 5, 7), draw_rotation_degrees(10.0, 3, 5, 8));
  EXPECT_NE(draw_rotation_degrees(10.0, 3, 5, 7), draw_rotation_degrees(10.0, 4, 5, 7));
}

TEST(AugmentedImageSource, TurnsBeforeTheMoveAndLeavesTheMovesAsTheyWere) {
  const TwelveImages images;
  const PartlyLabelledSource<float>& inner = images.source;
  ImageAugmentation moves;
  moves.max_shift = 1;
  moves.horizontal_flip = true;
  ImageAugmentation turning = moves;
  turning.max_degrees = 15.0;
  const Shape shape(1, 6, 6);
  const AugmentedImageSource<float> source(inner, shape, turning, 21);
  const std::vector<Index> order{5, 1, 4, 0, 11, 2, 3, 6, 7, 8, 9, 10};
  Batch<float> plain, turned;
  inner.fill(order, 2, 7, plain);
  source.fill(order, 2, 7, turned);
  EXPECT_TRUE(turned.target_is_input[0]) << "the image task reconstructs the turned image";
  std::vector<float> scratch;
  for (Index j = 0; j < 5; ++j) {
    const Index position = 2 + j;
    const Index sample = order[static_cast<std::size_t>(position)];
    Vector<float> expected = plain.x.col(j);
    rotate_image(shape, draw_rotation_degrees(15.0, 21, sample, position), expected, scratch);
    expected = moved_by_copy(shape, draw_image_move(moves, 21, sample, position), expected);
    EXPECT_EQ(Vector<float>(turned.x.col(j)), expected) << "column " << j;
    EXPECT_NE(Vector<float>(turned.x.col(j)), Vector<float>(plain.x.col(j))) << "column " << j;
  }
}

TEST(AugmentedImageSource, RefusesATurnOutsideZeroTo180Degrees) {
  const Dataset data = testing::make_images(4);
  const AutoencoderSource<float> inner(data);
  ImageAugmentation a;
  for (const double degrees : {-1.0, 180.5, std::nan("")}) {
    a.max_degrees = degrees;
    const std::string message = testing::thrown_message<ArgumentError>(
        [&] { AugmentedImageSource<float>(inner, Shape(1, 6, 6), a, 1); });
    EXPECT_NE(message.find("expected a rotation of [0, 180] degrees"), std::string::npos)
        << message;
  }
  a.max_degrees = 180.0;
  EXPECT_NO_THROW(AugmentedImageSource<float>(inner, Shape(1, 6, 6), a, 1));
}

TEST(AugmentedImageSource, RefusesAShiftAsLargeAsTheImageAndAWrongShape) {
  const Dataset data = testing::make_images(4);
  const AutoencoderSource<float> inner(data);
  ImageAugmentation a;
  const auto refusal = [&] {
    return testing::thrown_message<ArgumentError>(
        [&] { AugmentedImageSource<float>(inner, Shape(1, 6, 6), a, 1); });
  };
  a.max_shift = 6;
  const std::string too_far = refusal();
  EXPECT_NE(too_far.find("expected a shift in [0, 5] pixels for 1x6x6 images, got 6"),
            std::string::npos)
      << too_far;
  a.max_shift = -1;
  EXPECT_FALSE(refusal().empty());
  a.max_shift = 1;
  a.erase_size = 7;
  const std::string too_wide = refusal();
  EXPECT_NE(too_wide.find("expected an erased square of [0, 6] pixels for 1x6x6 images, got 7"),
            std::string::npos)
      << too_wide;
  a.erase_size = -1;
  EXPECT_FALSE(refusal().empty());
  a.erase_size = 6;
  EXPECT_NO_THROW(AugmentedImageSource<float>(inner, Shape(1, 6, 6), a, 1));
  a.erase_size = 0;
  const AugmentedImageSource<float> wrong(inner, Shape(1, 5, 5), a, 1);
  Batch<float> batch;
  const std::string wrong_shape =
      testing::thrown_message<ShapeError>([&] { wrong.fill(data.identity_order(), 0, 2, batch); });
  EXPECT_NE(wrong_shape.find("samples of 36 features are not 1x5x5 images"), std::string::npos)
      << wrong_shape;
}

}  // namespace
}  // namespace scvae
