# services87 container image: slim Python 3.11, a non-root user, a health check. See docs/operations.md.
#   docker build -t services87 .
#   docker run -p 8087:8087 -v s87data:/var/lib/services87 services87 --demo
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10087 --user-group --home-dir /var/lib/services87 --create-home services87
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels
USER 10087:10087
WORKDIR /var/lib/services87
ENV PYTHONUNBUFFERED=1 \
    SERVICES87_HOST=0.0.0.0 \
    SERVICES87_PORT=8087
EXPOSE 8087
VOLUME ["/var/lib/services87"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8087/health/ready', timeout=2)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["services87", "serve", "--log-format", "json"]
CMD ["--db", "/var/lib/services87/services87.db"]
