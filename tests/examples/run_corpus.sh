#!/usr/bin/env bash
# Runs the MNIST examples against a corpus of malformed data directories and
# bad command lines, and checks how they fail:
#   - a data, file or checkpoint problem: exit status 1 and exactly one line
#     on stderr ("<program>: error: ..."), naming the file;
#   - a bad argument: exit status 2 and exactly one line on stderr;
#   - never a signal (status >= 128) nor a sanitizer report.
# A well-formed control directory (and a tiny one) must train without error.
#
# Issue 19's cases too: every numeric flag of every program (read from its
# --help) refuses NaN, infinity, overflow and out-of-range values naming the
# flag; models too large are refused before allocation; the lock on --out;
# metrics kept by a failed fresh run and cut back on resume; SIGINT/SIGTERM;
# an M2 resume with other --labels; --help that does not contradict itself.
#
# scvae_table (issue 21), when given: a small table trains and predicts, and
# malformed tables and bad command lines fail naming file, line and column,
# or the flag (table_cases).
#
# Usage: run_corpus.sh <mnist_vae> [<mnist_multitask>] [<mnist_m2>] [<scvae_table>]
# A binary that does not exist is skipped with a message; at least one must
# exist. The cases that need 28x28 images (the conv preset, model-size
# limits, signals) read a synthetic directory of 500 train and 100 test
# images: the real data set's 10,000 test images made each conv run
# evaluate for seconds (40 of the corpus's 65 s).
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
  local out=${out_dir:-"$work/out/$RANDOM$RANDOM"}
  mkdir -p "$out"
  local stderr_file="$work/stderr"
  local out_flags=(--out "$out")
  [[ -n ${no_out:-} ]] && out_flags=()  # the command gives its own --out, or none
  "$@" "${out_flags[@]}" >/dev/null 2>"$stderr_file"
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
  elif [[ -n ${want_text:-} && $first != *"$want_text"* ]]; then
    problem="the line does not say '$want_text'"
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

# labels FILE COUNT: a valid label file of COUNT labels cycling through 0-9
cycling_labels() {
  local file=$1 count=$2 cycle='\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09' i
  {
    printf "\x00\x00\x08\x01$(be32 "$count")"
    for ((i = 0; i < count / 10; ++i)); do printf "$cycle"; done
  } >"$file"
}
full_size="$work/data/full-size"
mkdir -p "$full_size"
images "$full_size/train-images-idx3-ubyte" 500 28 28
cycling_labels "$full_size/train-labels-idx1-ubyte" 500
images "$full_size/t10k-images-idx3-ubyte" 100 28 28
cycling_labels "$full_size/t10k-labels-idx1-ubyte" 100

# check NAME CONDITION-STATUS MESSAGE: counts a check that is not a run.
check() {
  ((checks++))
  if (($2 == 0)); then echo "ok   $1"; else ((failures++)); echo "FAIL $1: $3"; fi
}

# Every INT and FLOAT option the program's --help lists refuses values that
# are not numbers of its range, with status 2 and a line naming the flag.
numeric_flag_sweep() {
  local label=$1
  shift  # the rest: the program and its design arguments
  local flag type value
  while read -r flag type; do
    local values=(nan)
    if [[ $type == INT* ]]; then
      values+=(99999999999999999999999 18446744073709551616 -9223372036854775809 1.5 -1)
    else
      values+=(inf -inf 1e999 x)
    fi
    for value in "${values[@]}"; do
      args "$flag" "$value"
      want_text="$flag: expected" expect 2 "$label $flag $value" "$@" --data "$good" "${small[@]}"
    done
  done < <("$@" --help | grep -oE -- '--[a-z-]+ (INT|FLOAT)[^=]*' | awk '{print $1, $2}' | sort -u)
}

# mnist_vae --arch conv: trains, rebuilds from its checkpoint alone, and
# refuses what does not fit the preset.
conv_cases() {
  local tiny=(--quiet --epochs 1 --batch 4 --threads 1 --latent 2)
  want_text="--arch conv: expected 28x28 images" expect 2 "$program --arch conv on small images" \
    "$binary" --data "$good" "${tiny[@]}" --arch conv
  want_text="--hidden" expect 2 "$program --arch conv --hidden" "$binary" --data "$good" \
    "${tiny[@]}" --hidden 8 --arch conv
  out="$work/out/conv-$program"
  local conv_flags=(--quiet --epochs 1 --batch 16 --limit 48 --threads 2 --latent 2)
  out_dir=$out expect 0 "$program --arch conv" "$binary" --data "$full_size" "${conv_flags[@]}" \
    --arch conv
  out_dir=$out expect 0 "$program --arch conv --load --epochs 0" "$binary" --data "$full_size" \
    --quiet --epochs 0 --limit 48 --load "$out/model.scvae"
  want_text="--arch mlp differs" expect 1 "$program --arch mlp --load of a conv model" \
    "$binary" --data "$full_size" --quiet --epochs 0 --limit 48 --arch mlp --load "$out/model.scvae"
}

# mnist_multitask --arch conv: the same trunk under the SC-VAE's image and
# label tasks, and as M2's trunk with the conv decoder reading [z; y].
multitask_conv_cases() {
  local tiny=(--quiet --epochs 1 --batch 4 --threads 1 --latent 2 --design scvae)
  want_text="--arch conv: expected 28x28 images" expect 2 "$program --arch conv on small images" \
    "$binary" --data "$good" "${tiny[@]}" --arch conv
  want_text="--arch conv has its own" expect 2 "$program --arch conv --hidden" "$binary" \
    --data "$good" "${tiny[@]}" --hidden 8 --arch conv
  want_text="--arch conv: expected 28x28 images" expect 2 "$program --arch conv (m2) on small images" \
    "$binary" --data "$good" --quiet --epochs 1 --batch 4 --threads 1 --latent 2 --arch conv
  want_text="--arch conv has its own" expect 2 "$program --arch conv --hidden (m2)" "$binary" \
    --data "$good" --quiet --epochs 1 --batch 4 --threads 1 --latent 2 --hidden 8 --arch conv
  local m2_out="$work/out/conv-m2-$program"
  local m2_flags=(--quiet --batch 16 --limit 48 --labels 20 --threads 2 --latent 2 --arch conv)
  out_dir=$m2_out expect 0 "$program --arch conv --baseline (m2)" "$binary" --data "$full_size" \
    "${m2_flags[@]}" --epochs 1 --baseline --baseline-epochs 2
  grep -q '"baseline_accuracy"' "$m2_out/metrics.jsonl"
  check "$program --arch conv --baseline (m2) writes the conv baseline's accuracy" $? \
    "$(tail -n 1 "$m2_out/metrics.jsonl")"
  out_dir=$m2_out expect 0 "$program --arch conv --load --epochs 0 (m2)" "$binary" \
    --data "$full_size" --quiet --limit 48 --threads 2 --epochs 0 --load "$m2_out/model.scvae"
  want_text="--arch mlp differs" expect 1 "$program --arch mlp --load of a conv M2" "$binary" \
    --data "$full_size" --quiet --epochs 0 --limit 48 --arch mlp --load "$m2_out/model.scvae"
  local out="$work/out/conv-$program"
  local conv_flags=(--quiet --batch 16 --limit 48 --labels 20 --threads 2 --latent 2
                    --design scvae --arch conv)
  out_dir=$out expect 0 "$program --arch conv --baseline, augmented" "$binary" \
    --data "$full_size" "${conv_flags[@]}" --epochs 1 --baseline --baseline-epochs 2 \
    --augment-shift 2 --augment-flip --augment-erase 12
  want_text="--augment-erase: image augmentation: expected an erased square of [0, 28] pixels" \
    expect 2 "$program --augment-erase wider than the image" "$binary" --data "$full_size" \
    "${conv_flags[@]}" --epochs 1 --augment-erase 29
  grep -q '"baseline_accuracy"' "$out/metrics.jsonl"
  check "$program --arch conv --baseline writes the conv baseline's accuracy" $? \
    "$(tail -n 1 "$out/metrics.jsonl")"
  out_dir=$out expect 0 "$program --arch conv --load --epochs 0" "$binary" --data "$full_size" \
    "${conv_flags[@]}" --epochs 0 --load "$out/model.scvae"
}

# mnist_multitask --design scvae: --gradnorm-alpha without GradNorm is refused;
# --prior classes trains, writes its prior's samples and reloads, and refuses
# the label head's flags (its head is the prior's centres).
multitask_balance_cases() {
  local tiny=(--quiet --epochs 1 --batch 4 --threads 1 --latent 2 --design scvae)
  want_text="--gradnorm-alpha: an option of --balance gradnorm" expect 2 \
    "$program --gradnorm-alpha without --balance gradnorm" "$binary" --data "$good" \
    "${tiny[@]}" --gradnorm-alpha 0
  local out="$work/out/prior-$program"
  out_dir=$out expect 0 "$program --prior classes" "$binary" --data "$good" "${tiny[@]}" \
    --prior classes
  check "$program --prior classes writes samples.png" "$( [[ -s $out/samples.png ]]; echo $?)" \
    "$(ls "$out")"
  out_dir=$out expect 0 "$program --prior classes --load --epochs 0" "$binary" --data "$good" \
    --quiet --epochs 0 --threads 1 --latent 2 --design scvae --prior classes \
    --load "$out/model.scvae"
  want_text="--prior classes reads the label from mu" expect 2 \
    "$program --prior classes --label-hidden" "$binary" --data "$good" "${tiny[@]}" \
    --prior classes --label-hidden 8
  want_text="--prior" expect 2 "$program --prior mixture" "$binary" --data "$good" "${tiny[@]}" \
    --prior mixture
}

issue19_cases() {
  local design=()
  [[ $program == mnist_multitask ]] && design=(--design scvae)
  numeric_flag_sweep "$program" "$binary"
  [[ $program == mnist_multitask ]] && numeric_flag_sweep "$program scvae" "$binary" "${design[@]}"
  # --help says what is true: no "{false}" beside "on by default", and no
  # fixed default shown for a label weight that is computed.
  local help
  help=$("$binary" "${design[@]}" --help)
  ! grep -q '{false}' <<<"$help"
  check "$program --help shows no {false} default" $? "$(grep '{false}' <<<"$help")"
  ! grep -- '--label-weight' <<<"$help" | grep -qE '=[0-9]'
  check "$program --help shows no fixed --label-weight" $? "$(grep -- --label-weight <<<"$help")"

  # A batch larger than the data is one batch of all of it: a step is run.
  local out="$work/out/batch-$program"
  args --batch 9223372036854775807
  out_dir=$out expect 0 "$program --batch 2^63-1" "$binary" "${design[@]}" --data "$good" "${small[@]}"
  grep -q '"epoch": 1' "$out/metrics.jsonl" && ! grep -q '"train_loss": 0,' "$out/metrics.jsonl"
  check "$program --batch 2^63-1 trains a step" $? "$(cat "$out/metrics.jsonl" 2>&1)"
  # The pictures of every example: PNGs, curves.png redrawn each epoch.
  local picture pictures_written=0
  for picture in curves.png latent.png; do
    [[ $(head -c 8 "$out/$picture" 2>/dev/null | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] ||
      pictures_written=1
  done
  check "$program writes curves.png and latent.png" $pictures_written "in $out: $(ls "$out")"

  # The lock on --out: a second run fails at once and truncates nothing.
  out="$work/out/locked-$program"
  mkdir -p "$out" && echo '{"epoch": 1, "previous": 1}' >"$out/metrics.jsonl"
  flock "$out/.lock" sleep 60 &  # blocking: the probe below may hold it a moment
  local holder=$!
  while flock -n "$out/.lock" true 2>/dev/null; do sleep 0.05; done
  args
  want_text="another run is writing to this output folder" out_dir=$out \
    expect 1 "$program on a locked --out" "$binary" "${design[@]}" --data "$good" "${small[@]}"
  kill "$holder"; wait "$holder" 2>/dev/null
  grep -q previous "$out/metrics.jsonl"
  check "$program on a locked --out keeps the metrics" $? "metrics.jsonl was changed"

  # A fresh run that fails in its first epoch keeps the previous metrics.
  out="$work/out/nan-$program"
  mkdir -p "$out" && echo '{"epoch": 1, "previous": 1}' >"$out/metrics.jsonl"
  args --lr 1e39 --epochs 2
  out_dir=$out expect 1 "$program --lr 1e39" "$binary" "${design[@]}" --data "$good" "${small[@]}"
  grep -q previous "$out/metrics.jsonl"
  check "$program failed fresh run keeps the previous metrics" $? "metrics.jsonl was truncated"

  # A resumed run cuts metrics lines after its checkpoint's epoch (written
  # by a run killed after its metrics line and before its checkpoint).
  out="$work/out/resume-$program"
  args --epochs 2
  out_dir=$out expect 0 "$program 2 epochs" "$binary" "${design[@]}" --data "$good" "${small[@]}"
  echo '{"epoch": 3, "stale": 1}' >>"$out/metrics.jsonl"
  args --epochs 1
  out_dir=$out expect 0 "$program resumed" "$binary" "${design[@]}" --data "$good" "${small[@]}" \
    --load "$out/model.scvae"
  [[ $(grep -c '"epoch": 3' "$out/metrics.jsonl") == 1 ]] && ! grep -q stale "$out/metrics.jsonl"
  check "$program resume cuts metrics back to its checkpoint" $? "$(cat "$out/metrics.jsonl")"

  if [[ $program == mnist_m2 ]]; then
    # The labelled subset is part of an M2 run's identity (the same program
    # as mnist_multitask --design m2).
    args --labels 3
    want_text="labelled images differ from this run's" expect 1 \
      "$program resumed with other --labels" "$binary" --data "$good" "${small[@]}" \
      --load "$out/model.scvae"
  fi

  # Models too large: refused before allocation, naming the flag and size.
  local size_flags=("--hidden 1152921504606846976" "--latent 4611686018427387904"
                    "--hidden 10000000" "--hidden 1000000")
  [[ $program == mnist_multitask ]] && size_flags+=("--label-hidden 4611686018427387904")
  [[ $program != mnist_vae ]] && size_flags+=("--classifier-hidden 4611686018427387904")
  local pair
  for pair in "${size_flags[@]}"; do
    local flag=${pair% *} value=${pair#* }
    local d=("${design[@]}")
    [[ $flag == --classifier-hidden ]] && d=()
    [[ $flag == --label-hidden && $program == mnist_multitask ]] && d=(--design scvae)
    args "$flag" "$value" --batch 100
    want_text="$flag $value: the model" expect 2 "$program $flag $value" \
      "$binary" "${d[@]}" --data "$full_size" --limit 100 "${small[@]}"
  done

  # SIGINT/SIGTERM: stops at a step, names the last checkpoint, no temp file.
  local sig
  for sig in INT TERM; do
    out="$work/out/signal-$sig-$program"
    mkdir -p "$out"
    args --epochs 100000 --hidden 16 --batch 100
    "$binary" "${design[@]}" --data "$full_size" --limit 500 "${small[@]}" --out "$out" \
      2>"$out/stderr" &
    local pid=$!
    local tries=0
    while [[ ! -e $out/model.scvae ]] && ((tries++ < 600)); do sleep 0.1; done
    kill -s "$sig" "$pid"
    wait "$pid"
    local status=$? want=143
    [[ $sig == INT ]] && want=130
    [[ $status == "$want" && $(wc -l <"$out/stderr") == 1 ]] &&
      grep -q "interrupted by SIG$sig; the last checkpoint is $out/model.scvae (epoch [0-9]*)" \
        "$out/stderr" && [[ -z $(find "$out" -name '*.tmp*') ]]
    check "$program SIG$sig" $? "status $status, stderr: $(cat "$out/stderr")"
  done
}

# scvae_table: a small table of two classes trains and predicts (every
# target filled in), then malformed tables and bad command lines.
table_cases() {
  local dir="$work/table"
  mkdir -p "$dir"
  local good="$dir/good.csv" i c
  {
    echo "x1,x2,colour,class,value"
    for ((i = 0; i < 60; i++)); do
      c=$((i % 3))
      # every fourth class missing, the colour a text feature
      printf '%d.5,%d,%s,%s,%d\n' $((c * 10 + i % 7)) $((30 - c * 10 + i % 5)) \
        "$( ((i % 2)) && echo red || echo blue)" "$( ((i % 4 == 3)) || echo "c$c")" \
        $((100 + c * 20 + i % 3))
    done
  } >"$good"
  printf 'x1,x2,colour,class\n0.5,30,red,\n,20,blue,c1\n20.5,10,red,\n' >"$dir/new.csv"
  local train=(train --epochs 3 --threads 1 --quiet --target class:categorical
    --target value:gaussian)
  out_dir="$dir/model" expect 0 "scvae_table train" "$binary" "${train[@]}" --data "$good"
  local files_written=0
  for file in model.scvae metrics.jsonl curves.png latent.png; do
    [[ -s $dir/model/$file ]] || files_written=1
  done
  check "scvae_table train writes model.scvae, metrics.jsonl, curves.png, latent.png" $files_written \
    "missing in $dir/model: $(ls "$dir/model")"
  local model="$dir/model/model.scvae" predictions="$dir/predictions.csv"
  no_out=1 expect 0 "scvae_table predict" "$binary" predict --model "$model" \
    --data "$dir/new.csv" --out "$predictions"
  local header filled
  header=$(head -n 1 "$predictions" 2>/dev/null)
  filled=$(awk -F, 'NR > 1 && $5 != "" && $6 != "" && $7 != ""' "$predictions" 2>/dev/null | wc -l)
  check "scvae_table predictions.csv has the targets' columns" \
    "$([[ $header == x1,x2,colour,class,class_predicted,class_probability,value_predicted ]]; echo $?)" \
    "header '$header'"
  check "scvae_table predictions.csv fills every row" "$( ((filled == 3)); echo $?)" \
    "$filled of 3 rows filled"

  # Malformed tables: status 1, naming the file, line and column.
  bad_table() {  # NAME WANT_TEXT CONTENT
    printf '%b' "$3" >"$dir/$1.csv"
    want_text=$2 expect 1 "scvae_table $1" "$binary" "${train[@]}" --data "$dir/$1.csv"
  }
  bad_table ragged-row "ragged-row.csv: line 3, column 6" \
    'x1,x2,colour,class,value\n1,2,red,a,3\n4,5,red,b,6,7\n'
  bad_table text-in-numeric "text-in-numeric.csv: line 3, column 1" \
    'x1,x2,colour,class,value\n1,2,red,a,3\nabc,5,red,b,6\n2,3,red,a,4\n5,6,red,b,1\n'
  bad_table unterminated-quote "unterminated-quote.csv: line 3, column 1" \
    'x1,x2,colour,class,value\n1,2,red,a,3\n"4,5,red,b,6\n'
  bad_table one-class "one-class.csv: column 4" \
    'x1,x2,colour,class,value\n1,2,red,a,3\n4,5,red,a,6\n'
  bad_table text-real-target "text-real-target.csv: line 3, column 5" \
    'x1,x2,colour,class,value\n1,2,red,a,3\n4,5,red,b,high\n7,8,red,a,4\n9,1,red,b,5\n'
  want_text="absent.csv" expect 1 "scvae_table missing --data" "$binary" "${train[@]}" \
    --data "$dir/absent.csv"
  # Predicting: rows without a feature column, an unseen class, a corrupt model.
  printf 'x1,colour\n1,red\n' >"$dir/no-x2.csv"
  want_text='no column "x2"' no_out=1 expect 1 "scvae_table predict without a feature column" \
    "$binary" predict --model "$model" --data "$dir/no-x2.csv" --out "$dir/p.csv"
  printf 'x1,x2,colour,class\n1,2,green,\n' >"$dir/new-colour.csv"
  want_text="new-colour.csv: line 2, column 3" no_out=1 expect 1 \
    "scvae_table predict with an unseen category" "$binary" predict --model "$model" \
    --data "$dir/new-colour.csv" --out "$dir/p.csv"
  no_out=1 expect 1 "scvae_table predict with a corrupt model" "$binary" predict \
    --model "$corrupt_checkpoint" --data "$dir/new.csv" --out "$dir/p.csv"
  # Only train runs on the ranks of an MPI job: predict refuses the flag.
  want_text="--distributed: an option of scvae_table train" no_out=1 expect 2 \
    "scvae_table predict --distributed" "$binary" predict --distributed --model "$model" \
    --data "$dir/new.csv" --out "$dir/p.csv"

  # Bad command lines: status 2, naming the flag or the column.
  local base=(train --epochs 1 --quiet --data "$good")
  want_text="nosuch" expect 2 "scvae_table unknown --target column" "$binary" "${base[@]}" \
    --target nosuch:categorical
  want_text="--target" expect 2 "scvae_table bad --target kind" "$binary" "${base[@]}" \
    --target class:ordinal
  want_text="--target" expect 2 "scvae_table --target without a kind" "$binary" "${base[@]}" \
    --target class
  want_text="--out" no_out=1 expect 2 "scvae_table missing --out" "$binary" "${base[@]}" \
    --target class:categorical
  want_text="--target" expect 2 "scvae_table missing --target" "$binary" "${base[@]}"
  want_text="--prior" expect 2 "scvae_table --prior mixture" "$binary" "${base[@]}" \
    --target class:categorical --prior mixture
  want_text="--prior classes" expect 2 "scvae_table --prior classes without a class" \
    "$binary" "${base[@]}" --target value:gaussian --prior classes
  out_dir="$dir/standard" expect 0 "scvae_table train --prior standard --init he-glorot" \
    "$binary" "${train[@]}" --data "$good" --prior standard --init he-glorot
  local split
  for split in 1.5 0 -0.2 nan x; do
    want_text="--test-split" expect 2 "scvae_table --test-split $split" "$binary" "${base[@]}" \
      --target class:categorical --test-split "$split"
  done
  want_text="test fraction" expect 2 "scvae_table --test-split 1" "$binary" "${base[@]}" \
    --target class:categorical --test-split 1
  want_text="--test" expect 2 "scvae_table --test with --test-split" "$binary" "${base[@]}" \
    --target class:categorical --test "$good" --test-split 0.3
  want_text="--precision" expect 2 "scvae_table --precision fp16" "$binary" "${base[@]}" \
    --precision fp16
  out_dir="$dir/bf16" expect 0 "scvae_table train --precision bf16" "$binary" "${train[@]}" \
    --data "$good" --precision bf16
  want_text="--hidden" expect 2 "scvae_table --hidden 8,0" "$binary" "${base[@]}" \
    --target class:categorical --hidden 8,0
  want_text="--gradnorm-alpha: an option of --balance gradnorm" expect 2 \
    "scvae_table --gradnorm-alpha without --balance gradnorm" "$binary" "${base[@]}" \
    --target class:categorical --balance uncertainty --gradnorm-alpha 0
  want_text="subcommand" no_out=1 expect 2 "scvae_table no subcommand" "$binary"
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
  if [[ $program == scvae_table ]]; then
    table_cases
    continue
  fi
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
  want_text="--precision" bad --precision fp16
  # bf16 products (where the CPU lacks AVX512_BF16 the program trains in fp32,
  # its note hidden by --quiet); the checkpoint is fp32 either way.
  args --precision bf16
  out_dir="$work/out/bf16-$program" expect 0 "$program --precision bf16" "$binary" \
    --data "$good" "${small[@]}"
  args --epochs 0
  out_dir="$work/out/bf16-$program" expect 0 "$program --load of a bf16 model, in fp32" \
    "$binary" --data "$good" "${small[@]}" --load "$work/out/bf16-$program/model.scvae"
  if [[ $program == mnist_multitask ]]; then
    bad --labels 999999
    bad --labels -1
  fi
  args
  expect 2 "$program unknown flag" "$binary" --data "$good" "${small[@]}" --no-such-flag
  issue19_cases
  [[ $program == mnist_vae ]] && conv_cases
  [[ $program == mnist_multitask ]] && multitask_conv_cases
  [[ $program == mnist_multitask ]] && multitask_balance_cases
done

if ((ran == 0)); then
  echo "FAIL: none of the example binaries exists: $*"
  exit 1
fi
echo "$checks checks, $failures failure(s)"
((failures == 0))
