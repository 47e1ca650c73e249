# The cost benchmark: e2e/lambda's TestLambda_RequestsPerDelivery with every scenario, COST_DELIVERIES
# deliveries each, queued at COST_RATE deliveries per second (single send with and without a key, a batch of
# 100, 5 endpoints, single send with a 2 s event-source batching window, single send and batch of 100 through
# send's function URL; 700-byte payloads).
COST_DELIVERIES ?= 1000
COST_RATE       ?= 50

.PHONY: cost
cost: rie venv ## Price a million deliveries per AWS service: the real bootstraps against moto behind a request-counting proxy (COST_DELIVERIES=1000 at COST_RATE=50 a second, ~5 min)
	cd e2e/lambda && OUTHOOK_COST=1 OUTHOOK_MEASURE_DELIVERIES=$(COST_DELIVERIES) OUTHOOK_MEASURE_RATE=$(COST_RATE) $(TEST_ENV) $(GO) test -count=1 -timeout 60m -run '^TestLambda_RequestsPerDelivery$$'
