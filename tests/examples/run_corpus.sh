#!/usr/bin/env bash
# Runs the MNIST examples against a corpus of malformed data directories and
# bad command lines, and checks how they fail:
#   - a data, file or checkpoint problem: exit status 1 and exactly one line
#     on stderr ("<program>: error: ..."), naming the file;
#   - a bad argument: exit status 2 and exactly one line on stderr;
#   - never a signal (status >= 128) nor a sanitizer report.
# A well-formed control directory (and a tiny one) must train without error.
#
# Usage: run_corpus.sh <mnist_vae> [<mnist_multitask>]
# A binary that does not exist is skipped with a message (mnist_multitask is
# optional); at least one must exist.
set -uo pipefail

if (($# < 1)); then
  echo "usage: $0 <mnist_vae> [<mnist_multitask>]" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/scvae_corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
checks=0

# ---- writing IDX files with printf ----
be32() {  # a 32-bit big-endian integer as printf escapes
  printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) \
    $(($1 >> 8 & 255)) $(($1 & 255))
}
# images FILE COUNT ROWS COLS: a valid image file, pixel (i*7) mod 256
images() {
  local file=$1 count=$2 rows=$3 cols=$4
  {
    printf "\\x00\\x00\\x08\\x03$(be32 "$count")$(be32 "$rows")$(be32 "$cols")"
    head -c $((count * rows * cols)) /dev/urandom
  } >"$file"
}
# labels FILE LABEL...: a valid label file (labels given as numbers)
labels() {
  local file=$1
  shift
  {
    printf "\\x00\\x00\\x08\\x01$(be32 $#)"
    local l
    for l in "$@"; do printf "\\x$(printf %02x "$l")"; done
  } >"$file"
}
ten_labels() { labels "$1" 0 1 2 3 4 5 6 7 8 9; }
# A complete, valid data directory: 10 train and 10 test images of 4x4.
valid_dir() {
  local dir=$1
  mkdir -p "$dir"
  images "$dir/train-images-idx3-ubyte" 10 4 4
  ten_labels "$dir/train-labels-idx1-ubyte"
  images "$dir/t10k-images-idx3-ubyte" 10 4 4
  ten_labels "$dir/t10k-labels-idx1-ubyte"
}
# A case: a valid directory with one file replaced. Prints the directory.
new_case() {
  local dir="$work/data/$1"
  valid_dir "$dir"
  echo "$dir"
}

# ---- the corpus ----
d=$(new_case truncated)
head -c 100 "$d/train-images-idx3-ubyte" >"$d/x" && mv "$d/x" "$d/train-images-idx3-ubyte"

d=$(new_case truncated-header)
printf '\x00\x00\x08\x01\x00' >"$d/t10k-labels-idx1-ubyte"

d=$(new_case truncated-gz)
gzip -c "$d/train-images-idx3-ubyte" | head -c 60 >"$d/train-images-idx3-ubyte.gz"
rm "$d/train-images-idx3-ubyte"

d=$(new_case bad-gz)  # a gzip header followed by garbage
{ printf '\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03'; head -c 200 /dev/zero | tr '\0' '\377'; } \
  >"$d/train-labels-idx1-ubyte.gz"
rm "$d/train-labels-idx1-ubyte"

d=$(new_case bad-gz-crc)  # a complete gzip stream whose CRC is wrong
gzip -c "$d/t10k-labels-idx1-ubyte" >"$d/t10k-labels-idx1-ubyte.gz"
size=$(stat -c %s "$d/t10k-labels-idx1-ubyte.gz")
printf '\xde\xad\xbe\xef' | dd of="$d/t10k-labels-idx1-ubyte.gz" bs=1 seek=$((size - 8)) \
  conv=notrunc status=none
rm "$d/t10k-labels-idx1-ubyte"

d=$(new_case wrong-magic)
printf 'P5\n4 4\n255\n' >"$d/train-images-idx3-ubyte"

d=$(new_case wrong-type)  # 0x0D: float data
{ printf "\\x00\\x00\\x0d\\x03$(be32 10)$(be32 4)$(be32 4)"; head -c 640 /dev/zero; } \
  >"$d/train-images-idx3-ubyte"

d=$(new_case wrong-dimension-count)  # a label file where images are expected
ten_labels "$d/t10k-images-idx3-ubyte"

d=$(new_case overflow-dims)
{ printf "\\x00\\x00\\x08\\x03$(be32 4294967295)$(be32 4294967295)$(be32 4294967295)"
  head -c 64 /dev/zero; } >"$d/train-images-idx3-ubyte"

d=$(new_case dims-exceed-file)  # 10^9 images declared, 160 bytes present
{ printf "\\x00\\x00\\x08\\x03$(be32 1000000000)$(be32 4)$(be32 4)"; head -c 160 /dev/zero; } \
  >"$d/train-images-idx3-ubyte"

d=$(new_case zero-dims)
printf "\\x00\\x00\\x08\\x03$(be32 10)$(be32 0)$(be32 4)" >"$d/train-images-idx3-ubyte"

d=$(new_case zero-labels)
printf "\\x00\\x00\\x08\\x01$(be32 0)" >"$d/train-labels-idx1-ubyte"

d=$(new_case label-past-class-count)
labels "$d/train-labels-idx1-ubyte" 0 1 2 3 4 5 6 7 8 10

d=$(new_case trailing-data)
printf 'xyz' >>"$d/t10k-images-idx3-ubyte"

d=$(new_case count-mismatch)
labels "$d/train-labels-idx1-ubyte" 0 1 2 3 4 5 6 7 8

d=$(new_case image-size-differs)
images "$d/t10k-images-idx3-ubyte" 10 5 5

d=$(new_case missing-file)
rm "$d/t10k-labels-idx1-ubyte"

d=$(new_case directory-in-place-of-file)
rm "$d/train-images-idx3-ubyte" && mkdir "$d/train-images-idx3-ubyte"

d=$(new_case empty-file)
: >"$d/train-labels-idx1-ubyte"

mkdir -p "$work/data/no-files"
: >"$work/data/a-file-not-a-directory"
broken=("$work"/data/* "$work/data/does-not-exist")

good="$work/good"
valid_dir "$good"
tiny="$work/tiny"  # one training and one test image
mkdir -p "$tiny"
images "$tiny/train-images-idx3-ubyte" 1 4 4
labels "$tiny/train-labels-idx1-ubyte" 3
images "$tiny/t10k-images-idx3-ubyte" 1 4 4
labels "$tiny/t10k-labels-idx1-ubyte" 7

corrupt_checkpoint="$work/corrupt.scvae"
printf 'SCVAECKP\x01\x00\x00\x00garbage' >"$corrupt_checkpoint"

# ---- running ----
# args FLAG VALUE...: the small run's flags (per program), each given flag
# replacing its default (given twice, CLI11 would reject the line for that).
args() {
  declare -A value=([--epochs]=1 [--hidden]=8 [--latent]=2 [--batch]=4 [--threads]=1)
  if [[ $program == mnist_multitask ]]; then value[--labels]=5; fi
  while (($# >= 2)); do value[$1]=$2; shift 2; done
  small=(--quiet)
  local flag
  for flag in "${!value[@]}"; do small+=("$flag" "${value[$flag]}"); done
}

# expect STATUS NAME PROGRAM ARGS...: runs the program, checks its exit
# status and that stderr holds exactly one line (none for status 0).
expect() {
  local want=$1 name=$2
  shift 2
  local out="$work/out/$RANDOM$RANDOM"
  mkdir -p "$out"
  local stderr_file="$work/stderr"
  "$@" --out "$out" >/dev/null 2>"$stderr_file"
  local status=$?
  local lines
  lines=$(wc -l <"$stderr_file")
  local first
  first=$(head -n 1 "$stderr_file")
  ((checks++))
  local problem=""
  if ((status >= 128)); then
    problem="killed by signal $((status - 128)) (status $status)"
  elif ((status != want)); then
    problem="exit status $status, expected $want"
  elif ((want == 0 && lines != 0)); then
    problem="expected no stderr output, got $lines line(s)"
  elif ((want != 0 && lines != 1)); then
    problem="expected exactly one line on stderr, got $lines"
  elif ((want == 1)) && [[ $first != "$program: error: "?* ]]; then
    problem="the line does not start with '$program: error: '"
  elif ((want == 2)) && [[ $first != "$program: "?* ]]; then
    problem="the line does not start with '$program: '"
  fi
  if [[ -n $problem ]]; then
    ((failures++))
    echo "FAIL $name: $problem"
    echo "  command: $*"
    sed 's/^/  stderr: /' "$stderr_file" | head -n 20
  else
    echo "ok   $name (status $status): ${first:-no output}"
  fi
}

ran=0
for binary in "$@"; do
  program=$(basename "$binary")
  if [[ ! -x $binary ]]; then
    echo "SKIP $program: $binary does not exist (not built yet?)"
    continue
  fi
  ((ran++))
  echo "== $program"
  args
  expect 0 "$program good data" "$binary" --data "$good" "${small[@]}"
  if [[ $program == mnist_multitask ]]; then args --labels 1; fi
  expect 0 "$program tiny data" "$binary" --data "$tiny" "${small[@]}"
  args
  for dir in "${broken[@]}"; do
    expect 1 "$program $(basename "$dir")" "$binary" --data "$dir" "${small[@]}"
  done
  args --epochs 0  # evaluate a checkpoint, as every program can
  expect 1 "$program corrupt --load" "$binary" --data "$good" "${small[@]}" \
    --load "$corrupt_checkpoint"
  expect 1 "$program missing --load" "$binary" --data "$good" "${small[@]}" \
    --load "$work/absent.scvae"
  # Bad arguments (each with otherwise valid data): status 2.
  bad() {
    local flag=$1 value=$2
    args "$flag" "$value"
    expect 2 "$program $flag $value" "$binary" --data "$good" "${small[@]}"
  }
  bad --batch 0
  bad --batch -3
  bad --batch x
  bad --epochs -1
  bad --epochs 0  # 0 only with --load
  bad --latent 0
  bad --latent -2
  bad --hidden 0
  bad --hidden -5
  bad --lr nan
  bad --lr 0
  bad --threads -1
  if [[ $program == mnist_multitask ]]; then
    bad --labels 999999
    bad --labels -1
  fi
  args
  expect 2 "$program unknown flag" "$binary" --data "$good" "${small[@]}" --no-such-flag
done

if ((ran == 0)); then
  echo "FAIL: none of the example binaries exists: $*"
  exit 1
fi
echo "$checks checks, $failures failure(s)"
((failures == 0))
