#!/usr/bin/env bash
# The GPU check: how fast and how repeatable training is at the paper's scale on CUDA, as one
# script for one call on a GPU machine (about 5 minutes on an H100 with a warm target directory;
# the build is the part that varies).
#
#   1. the CUDA libraries on the library path (the driver's `libcuda.so` and the toolkit's
#      `libnvrtc.so`, no `stubs/` directory first) and `nvidia-smi`; they are looked for in
#      `CPBUILD_CUDA_LIB_DIRS` (colon-separated), `$CUDA_HOME`, the usual system folders and the
#      NVIDIA pip wheels of the active Python (`python3` on the PATH);
#   2. `cpbuild` built with `cargo build --release --features cuda`, or a prebuilt one
#      (`CPBUILD_BIN=path`, or `.gpu-bin/cpbuild` in the repository when there is no `cargo`:
#      GPU machines without network have no crates to build from);
#   3. `cpbuild bench --backend cuda --full-epoch`: the paper's shapes (random CLIP ViT-L/14,
#      things-synth at 224 px, batch 64): images/s of the full and cached paths, a real
#      paper-scale epoch (1,444 / 362 / 48), and the projected time of the paper-profile
#      CLIP-HBA graph;
#   4. repeatability: one short `train-hba` run built twice, in two empty stores, on the same
#      backend; the bundles are compared bitwise and, if they differ, file by file (and the
#      largest difference per saved tensor);
#   5. the results in `$OUT` (when set; else a temporary directory): `summary.md`, `bench.txt`,
#      `repeatability.txt`, `gpu-check.log`, `nvidia-smi.txt`.
#
# Usage: .ci/gpu-check.sh [--backend cuda|ndarray] [--model NAME] [--steps N] [--batch N]
#                         [--no-full-epoch]
# `--backend ndarray` runs the same steps on the CPU without the `cuda` feature (clip-tiny by
# default), to check the script itself on a machine without a GPU.
#
# A prebuilt binary for a GPU machine without a Rust toolchain (x86-64; the CUDA libraries are
# loaded at run time, so it builds where there is no CUDA; about 38 MB stripped):
#   cargo build --release --features cuda --bin cpbuild
#   mkdir -p .gpu-bin && strip -o .gpu-bin/cpbuild "${CARGO_TARGET_DIR:-target}/release/cpbuild"
# `.gpu-bin/` is git-ignored: carry it with the working tree.
#
# Exit status: 0 when every step ran (the repeatability verdict is reported, not enforced),
# 1 when a step failed; each step has its own time limit so that the summary is always written.

set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

backend=cuda
model=""
steps=20
batch=64
full_epoch=--full-epoch
while (($#)); do
  case "$1" in
    --backend) backend=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --no-full-epoch) full_epoch=""; shift ;;
    -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument \`$1\`" >&2; exit 2 ;;
  esac
done
case "$backend" in
  cuda) features=(--features cuda); model=${model:-clip-vit-l-14}; repeat_model=clip-vit-l-14 ;;
  ndarray) features=(); model=${model:-clip-tiny}; repeat_model=clip-tiny ;;
  *) echo "gpu-check: \`--backend\` must be \`cuda\` or \`ndarray\`" >&2; exit 2 ;;
esac

out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
exec > >(tee "$out/gpu-check.log") 2>&1
status=0
summary=()
note() { summary+=("$1"); echo "== $1"; }
started=$SECONDS

# 1. The machine and the CUDA libraries.
echo "== gpu-check: backend $backend, model $model, steps $steps, batch $batch, out $out"
uname -a
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi | tee "$out/nvidia-smi.txt"
  gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)
  note "GPU: $gpu"
elif [ "$backend" = cuda ]; then
  note "no \`nvidia-smi\`: is this a GPU machine?"
fi
if [ "$backend" = cuda ]; then
  dirs=()
  patterns=()
  IFS=: read -r -a patterns <<< "${CPBUILD_CUDA_LIB_DIRS:-}"
  [ -n "${CUDA_HOME:-}" ] && patterns+=("$CUDA_HOME/lib64" "$CUDA_HOME/targets/x86_64-linux/lib")
  patterns+=(/usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu
    /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib '/usr/local/cuda-*/lib64')
  # NVIDIA's pip wheels (`nvidia-cuda-nvrtc-cu12`, ...) in the site-packages of `python3`.
  while IFS= read -r site; do
    [ -n "$site" ] && patterns+=("$site/nvidia/cu*/lib" "$site/nvidia/cuda_nvrtc/lib")
  done < <(python3 -c 'import site; print("\n".join(site.getsitepackages()))' 2>/dev/null || true)
  for pattern in "${patterns[@]}"; do
    for dir in $pattern; do
      case "$dir" in */stubs|*/stubs/*) continue ;; esac
      if compgen -G "$dir/libcuda.so*" >/dev/null || compgen -G "$dir/libnvrtc.so*" >/dev/null; then
        dirs+=("$dir")
      fi
    done
  done
  library_path=$(IFS=:; echo "${dirs[*]:-}")
  export LD_LIBRARY_PATH="${library_path}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
fi

# 2. The binary.
bin=${CPBUILD_BIN:-}
if [ -z "$bin" ] && command -v cargo >/dev/null 2>&1; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
  echo "== cargo build --release ${features[*]} --bin cpbuild (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  build_started=$SECONDS
  if timeout 200 cargo build --release "${features[@]}" --bin cpbuild; then
    bin=$CARGO_TARGET_DIR/release/cpbuild
    note "built \`cpbuild --features ${backend/ndarray/(none)}\` in $((SECONDS - build_started)) s"
  else
    note "FAILED: cargo build (or its 200 s limit) after $((SECONDS - build_started)) s"
    status=1
  fi
elif [ -z "$bin" ] && [ -x "$repo/.gpu-bin/cpbuild" ]; then
  bin=$repo/.gpu-bin/cpbuild
  note "no cargo: using the prebuilt \`.gpu-bin/cpbuild\`"
elif [ -z "$bin" ]; then
  note "FAILED: no cargo and no prebuilt binary (set CPBUILD_BIN or carry .gpu-bin/cpbuild)"
  status=1
fi

# 3. The benchmark.
if [ -n "$bin" ]; then
  echo "== cpbuild bench"
  bench_errors=$(mktemp)
  if timeout 170 "$bin" -C "$repo" --backend "$backend" bench --model "$model" \
      --steps "$steps" --batch "$batch" $full_epoch > "$out/bench.txt" 2> "$bench_errors"; then
    cat "$bench_errors" "$out/bench.txt"
    note "bench: $(grep '^| frozen prefix cached | f32 |' "$out/bench.txt" | cut -d'|' -f4 | xargs) images/s cached f32, $(grep '^| full (uncached) | f32 |' "$out/bench.txt" | cut -d'|' -f4 | xargs) full f32; epoch $(grep '^| epoch |' "$out/bench.txt" | cut -d'|' -f4 | xargs) s"
    note "$(grep '^projected time' "$out/bench.txt")"
  else
    cat "$bench_errors" "$out/bench.txt"
    note "FAILED: cpbuild bench (or its 170 s limit): $(grep -m1 '^error' "$bench_errors" | cut -c1-300)"
    status=1
  fi
fi

# 4. Repeatability: the same run, twice, in two stores.
if [ -n "$bin" ]; then
  echo "== repeatability: train-hba ($repeat_model) twice on $backend"
  project=$(mktemp -d)
  cp -r "$repo/data" "$project/data"
  mkdir -p "$project/recipes"
  cat > "$project/recipes/main.toml" <<EOF
[target.run]
kind = "train-hba"
inputs = [
  "data/things/spose_embedding66d_rescaled_1806train.csv",
  "data/things/spose_embedding66d_rescaled_48val_reordered.csv",
  "data/things/RDM48_triplet.mat",
  "data/things/spose_dimensions66.txt",
  "data/clip/bpe_simple_vocab_16e6.txt.gz",
]
params = { model = "$repeat_model", data = { world = "things-synth", train_pool_size = 96 }, weights = "random", seed = 0, max_epochs = 2, train_size = 64, test_size = 32, batch_size = 32 }
EOF
  repeat_ok=1
  for store in first second; do
    if ! timeout 90 "$bin" -C "$project" --backend "$backend" --store "$store" run \
        > "$out/repeat-$store.log" 2>&1; then
      repeat_ok=0
      note "FAILED: train-hba on $backend, $store run: $(grep -m1 -i 'error\|failed' "$out/repeat-$store.log" | cut -c1-300)"
      tail -20 "$out/repeat-$store.log"
      status=1
      break
    fi
  done
  {
    echo "train-hba $repeat_model on $backend, built twice in two empty stores"
    if ((repeat_ok)); then
      first=$(ls "$project"/first/bundles/*.tar.zst)
      second=$(ls "$project"/second/bundles/*.tar.zst)
      if cmp -s "$first" "$second"; then
        echo "bitwise repeatable: yes (bundle $(sha256sum "$first" | cut -c1-16)…)"
      else
        echo "bitwise repeatable: NO; files that differ:"
        one=$("$bin" -C "$project" --store first show run | sed -n 's/.*"unpacked": "\(.*\)",*/\1/p')
        two=$("$bin" -C "$project" --store second show run | sed -n 's/.*"unpacked": "\(.*\)",*/\1/p')
        diff -rq "$one" "$two"
        diff "$one/files/results.csv" "$two/files/results.csv"
        # The largest difference per tensor of every saved state that differs.
        python3 - "$one/files" "$two/files" <<'PY' || true
import array, json, pathlib, struct, sys
one, two = map(pathlib.Path, sys.argv[1:])
def tensors(path):
    data = path.read_bytes()
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + size])
    body = data[8 + size:]
    return {name: array.array("f", body[info["data_offsets"][0]:info["data_offsets"][1]])
            for name, info in header.items() if name != "__metadata__"}
for file in sorted(one.rglob("*.safetensors")):
    other = two / file.relative_to(one)
    if file.read_bytes() == other.read_bytes():
        continue
    x, y = tensors(file), tensors(other)
    worst = {name: max((abs(a - b) for a, b in zip(x[name], y[name])), default=0.0) for name in x}
    print(file.relative_to(one), {n: f"{d:.3g}" for n, d in worst.items() if d > 0})
PY
      fi
    fi
  } > "$out/repeatability.txt" 2>&1
  cat "$out/repeatability.txt"
  if ((repeat_ok)); then
    note "$(grep '^bitwise repeatable' "$out/repeatability.txt")"
  fi
  rm -rf "$project"
fi

# 5. The summary.
note "gpu-check took $((SECONDS - started)) s; exit status $status"
{
  echo "# cpbuild gpu-check ($backend)"
  echo
  for line in "${summary[@]}"; do echo "- $line"; done
} > "$out/summary.md"
cat "$out/summary.md"
exit "$status"
