# livemon: `make run` to start, `make test` to test. `make help` lists all.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := /usr/local/go/bin:$(PATH)

BIN      := bin/livemon
GO_PKGS  := ./server/...
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
ADDR     ?= 127.0.0.1:8000
DATA     ?= ./data
WEB_DIST := server/internal/webui/dist/index.html
WEB_SRC  := $(shell find webapp/src webapp/index.html webapp/vite.config.ts -type f 2>/dev/null)

.PHONY: help deps build web run dev test test-go test-web test-e2e bench fuzz lint fmt clean fake-camera cluster soak crash nats-server

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

deps: ## install what is missing (apt: OpenCV, Chromium, ffmpeg; npm packages)
	@scripts/deps.sh

web: deps $(WEB_DIST) ## build the web app into the server's embed dir

$(WEB_DIST): $(WEB_SRC) package-lock.json
	npm run build

build: web ## build the web app and the server binary
	go build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./server/cmd/livemon

run: build ## build and start the server with a demo camera at http://127.0.0.1:8000
	./$(BIN) --addr $(ADDR) --data $(DATA)

dev: build ## server on :8000 plus Vite dev server with hot reload on :5173
	@trap 'kill 0' EXIT; ./$(BIN) --addr $(ADDR) --data $(DATA) --allowed-origins http://localhost:5173,http://127.0.0.1:5173 & \
	npm run dev -w webapp -- --host 127.0.0.1

test: test-go test-web test-e2e ## run every test

test-go: deps ## Go vet, tests with the race detector, and the Mat leak check
	go vet $(GO_PKGS)
	go test -race -count=1 $(GO_PKGS)
	go test -tags matprofile -count=1 -run TestNoMatLeak ./server/internal/opencv/
	# The address-space limit is off in race builds: test it in a plain one.
	go test -count=1 -run TestMemoryLimit -v ./server/internal/isolate/ | grep -q -- '--- PASS: TestMemoryLimit'

test-web: deps ## web app type check, lint and unit tests
	npm run lint
	npm run test:web

test-e2e: build nats-server ## Playwright end-to-end tests in Chromium (the cluster failover spec runs bin/nats-server)
	npm test -w e2e

bench: build nats-server ## performance benchmark (see docs/performance.md)
	go build -o bin/livemon-bench ./server/cmd/livemon-bench
	./bin/livemon-bench --server $(BIN) --out bench/results $(BENCH_FLAGS)

nats-server: ## build bin/nats-server from the version pinned in go.mod (a tool directive; never downloaded)
	go build -o bin/nats-server github.com/nats-io/nats-server/v2

cluster: build nats-server ## on loopback: 3 clustered NATS servers (JetStream), 2 ingest and 2 edge nodes; prints the edge URLs, Ctrl-C stops all (docs/scaling.md)
	@scripts/cluster.sh

SOAK       ?= 60m
SOAK_FLAGS ?=
soak: build ## soak under churn and faults for SOAK (60m; SOAK=5m for a smoke run), fails on a leak or a loss (see docs/reliability.md)
	go build -o bin/livemon-bench ./server/cmd/livemon-bench
	./bin/livemon-bench soak --server $(BIN) --out bench/results --duration $(SOAK) $(SOAK_FLAGS)

CRASH_ROUNDS ?= 50
crash: build ## crash consistency: SIGKILL the server CRASH_ROUNDS (50) times during uploads, deletes and session writes (see docs/reliability.md)
	go build -o bin/livemon-bench ./server/cmd/livemon-bench
	./bin/livemon-bench crash --server $(BIN) --out bench/results --rounds $(CRASH_ROUNDS)

FAKECAM_ADDR      ?= 127.0.0.1:8090
FAKECAM_RTSP_ADDR ?= 127.0.0.1:8554
FAKECAM_FLAGS     ?=
fake-camera: deps ## serve a fake camera, HTTP on FAKECAM_ADDR (127.0.0.1:8090) and RTSP on FAKECAM_RTSP_ADDR (127.0.0.1:8554), until Ctrl-C
	go build -o bin/livemon-fake-camera ./server/cmd/livemon
	@echo "Add a camera with the URL http://$(FAKECAM_ADDR)/mjpeg (or /snapshot.jpg), or rtsp://$(FAKECAM_RTSP_ADDR)/h264 (or /h265), on the Cameras page."
	./bin/livemon-fake-camera fake-camera --addr $(FAKECAM_ADDR) --rtsp-addr '$(FAKECAM_RTSP_ADDR)' $(FAKECAM_FLAGS)

FUZZTIME ?= 60s
fuzz: ## run each fuzz target for FUZZTIME (60 s)
	go test -run XXX -fuzz FuzzParseCameraID -fuzztime $(FUZZTIME) ./server/internal/media/
	go test -run XXX -fuzz FuzzParseClientMsg -fuzztime $(FUZZTIME) ./server/internal/httpapi/
	go test -run XXX -fuzz FuzzFrameHeader -fuzztime $(FUZZTIME) ./server/internal/httpapi/
	go test -run XXX -fuzz FuzzSanitizeName -fuzztime $(FUZZTIME) ./server/internal/store/
	go test -run XXX -fuzz FuzzParseID -fuzztime $(FUZZTIME) ./server/internal/session/
	go test -run XXX -fuzz FuzzReader -fuzztime $(FUZZTIME) ./server/internal/mjpeg/

lint: deps ## gofmt, go vet, eslint
	@test -z "$$(gofmt -l server)" || { gofmt -l server; echo "run make fmt"; exit 1; }
	go vet $(GO_PKGS)
	npm run lint

fmt: ## format Go code
	gofmt -w server

clean: ## remove build output and test artefacts (not ./data)
	rm -rf bin server/internal/webui/dist/assets server/internal/webui/dist/index.html e2e/test-results e2e/playwright-report bench/results
