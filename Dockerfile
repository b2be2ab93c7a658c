# The kafkaops Slack bot as a container image (docs/deploy.md; Kubernetes example in deploy/).
#
#   ./dev build                          # dist/: the wheel and the locked requirements
#   docker build -t kafkaops-bot:0.1.0 .
#   docker run --rm -v "$PWD/config.yaml:/etc/kafkaops/config.yaml:ro" \
#     -e SLACK_BOT_TOKEN -e SLACK_APP_TOKEN -e KAFKAOPS_AUDIT_KEY kafkaops-bot:0.1.0
#
# Config comes from the file mounted at $KAFKAOPS_CONFIG; secrets come from the environment
# through the ${VARS} the config names. The config must set slack.health_port (3001 here):
# /healthz, /readyz and /metrics are served there in Socket Mode and HTTP mode alike.
# SIGTERM drains: Slack requests already acknowledged finish (up to 30 s), the alert
# notifier leaves its consumer group so another replica takes its alerts at once.
ARG PYTHON_VERSION=3.13
FROM python:${PYTHON_VERSION}-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KAFKAOPS_CONFIG=/etc/kafkaops/config.yaml \
    KAFKAOPS_HEALTH_URL=http://127.0.0.1:3001/healthz

# the locked dependencies of core and the bot and schema extras (no console, no demo), each
# checked against its hash, then the wheel itself
COPY dist/requirements-bot.txt dist/kafkaops-*-py3-none-any.whl /tmp/dist/
RUN python -m pip install --require-hashes --only-binary=:all: -r /tmp/dist/requirements-bot.txt \
 && python -m pip install --no-deps /tmp/dist/kafkaops-*-py3-none-any.whl \
 && rm -rf /tmp/dist \
 && groupadd --system --gid 10001 kafkaops \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/kafkaops --create-home \
      --shell /usr/sbin/nologin kafkaops

USER 10001:10001
WORKDIR /home/kafkaops
EXPOSE 3000 3001

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['KAFKAOPS_HEALTH_URL'], timeout=4)"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["kafkaops", "bot"]
