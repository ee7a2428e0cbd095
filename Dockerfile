# ICP Explorer as a container: `docker build -t icp-explorer . && docker run -p 8501:8501 -v icp-data:/data icp-explorer`
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ICP_DATA_DIR=/data \
    ICP_UPLOAD_LIMIT_MB=200

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY app.py ./
COPY .streamlit ./.streamlit
COPY pages ./pages
COPY ui ./ui
COPY icp_core ./icp_core
COPY sample_data ./sample_data

# Datasets, saved profiles and share links live here: mount a persistent volume.
RUN useradd --create-home icp && mkdir -p /data && chown icp /data
USER icp
VOLUME ["/data"]
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health')"
CMD ["python", "-m", "streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0"]
