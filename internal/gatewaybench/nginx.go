package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// nginxConfig is nginx as the reference proxy: 2 workers, an upstream with keepalive connections for
// HTTP (no access log, as the gateway's is discarded in the bench), the same server listening for HTTPS
// too (TLS 1.2 and 1.3, the bench's certificate, keep-alive as for HTTP), and a stream proxy for TCP. Like the
// gateway it sends the upstream X-Forwarded-For/-Host/-Proto and a request id, and answers the id.
const nginxConfig = `load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 2;
daemon off;
master_process on;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream backend {
    server %[2]s;
    keepalive 64;
  }
  server {
    listen %[3]s;
    listen %[6]s ssl;
    ssl_certificate %[7]s;
    ssl_certificate_key %[8]s;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Request-ID $request_id;
      add_header X-Request-ID $request_id always;
    }
  }
}
stream {
  upstream source {
    server %[4]s;
  }
  server {
    listen %[5]s;
    proxy_pass source;
  }
}
`

// nginxListen are nginx's addresses: HTTP, HTTPS (with the certificate and key files) and TCP.
type nginxListen struct {
	http, https, stream string
	certFile, keyFile   string
}

// writeNginxConfig writes the config into dir and returns its path.
func writeNginxConfig(dir, backend, source string, l nginxListen) (string, error) {
	path := filepath.Join(dir, "nginx.conf")
	conf := fmt.Sprintf(nginxConfig, dir, backend, l.http, source, l.stream, l.https, l.certFile, l.keyFile)
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return "", fmt.Errorf("write nginx config: %w", err)
	}
	return path, nil
}
