#!/usr/bin/env bash
# Prepare the one-call GPU check of issue 13, item 7 (benchmarks/scale_gpu.py) for the
# device tool (see /work/.library/device/README.md): its machines hold PyTorch, Lightning,
# numpy/scipy/pandas and numba, but not scvi-tools, anndata or scanpy, reach no package
# index, and do not see ../shared. This writes, under the git-ignored .gpu/:
#   .gpu/wheels  the missing packages as Python 3.12 wheels (~10 MB; docrep has no wheel
#                on PyPI and is built here), pinned to versions that install together;
#   .gpu/data    Baron pancreas, the benchmark's source of real cell profiles (~10 MB);
# and prints the command to pass to the device tool's run with carry [".gpu"].
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR="${SCSSL_DATA_DIR:-../shared/data}"
rm -rf .gpu && mkdir -p .gpu/wheels .gpu/data/scrna
cp "$DATA_DIR/scrna/baron_human_pancreas.h5ad" .gpu/data/scrna/
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
  --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64
  --platform manylinux2014_x86_64)
# what scvi-tools 1.4.2, anndata 0.12.2 and scanpy 1.11.5 need beyond the device image
# (its package list: /work/.library/device/KINDS.md, read 2026-12-07)
PACKAGES=(scvi-tools==1.4.2 anndata==0.12.2 scanpy==1.11.5 mudata==0.4.1
  annotated-types==0.8.0 array-api-compat==1.16.0 donfig==0.8.1.post1
  fast-array-utils==1.5.1 google-crc32c==1.9.0 legacy-api-wrap==1.5 ml-collections==1.1.0
  msgspec==0.23.0 natsort==8.4.0 numcodecs==0.17.1 pydantic==2.14.4 pydantic-core==2.50.5
  pydantic-settings==2.16.3 pynndescent==0.7.0 pyro-api==0.1.2 pyro-ppl==1.9.2
  python-dotenv==1.2.4 scikit-misc==0.5.3 scverse-misc==0.1.7 session-info2==0.4.2
  sparse==0.19.3 typing-inspection==0.4.5 tzdata==2026.6 umap-learn==0.5.12 zarr==3.4.2)
python3 -m pip wheel -q --no-deps docrep==0.3.2 -w .gpu/wheels
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp "${PLATFORMS[@]}" -d .gpu/wheels "${PACKAGES[@]}"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
du -sh .gpu
cat <<'CMD'
device run, carry [".gpu"], timeout_s 540:
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/wheels/*.whl && export PYTHONPATH=/tmp/site:$PWD/src SCSSL_DATA_DIR=$PWD/.gpu/data PYTHONUNBUFFERED=1 && cd benchmarks && python3 scale_gpu.py 2>&1 | tee $OUT/scale_gpu.log; cp results/scale_gpu.md $OUT/
CMD
