# tocsin: the API/evaluator (`tocsin serve`) and delivery workers (`tocsin worker`).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY dsl ./dsl
COPY engine ./engine
COPY delivery ./delivery
COPY service ./service
RUN pip install --no-cache-dir . && useradd --create-home tocsin
COPY rules ./rules
USER tocsin
ENV TOCSIN_HOST=0.0.0.0 TOCSIN_PORT=8080 TOCSIN_RULES_DIR=/app/rules
EXPOSE 8080
CMD ["tocsin", "serve"]
