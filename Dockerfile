# rewardforge: API, worker and sandbox in one image.
FROM python:3.11-slim-bookworm

# bubblewrap: the sandbox's kernel isolation (Docker's default seccomp profile blocks user
# namespaces: without an allowance the sandbox falls back to rlimits, and
# `rewardforge doctor` says so); EGL/Mesa: offscreen MuJoCo rendering;
# libpq: Postgres client library; procps: process-tree cleanup of sandboxes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      bubblewrap libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 libglib2.0-0 libpq5 procps make \
 && rm -rf /var/lib/apt/lists/*

ENV MUJOCO_GL=egl \
    PYTHONUNBUFFERED=1 \
    REWARDFORGE_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY app ./app
COPY sandbox ./sandbox
COPY envs ./envs
COPY prompts ./prompts
COPY migrations ./migrations
COPY alembic.ini ./
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir -e '.[ray]'

# Runs as an unprivileged user; the sandboxes inherit it.
RUN useradd --create-home --uid 1000 rewardforge && mkdir -p /data && chown rewardforge /data
USER rewardforge
VOLUME ["/data"]
EXPOSE 8000
CMD ["rewardforge", "serve", "--host", "0.0.0.0", "--port", "8000"]
