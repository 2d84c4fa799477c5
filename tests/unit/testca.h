/*
 * testca.h: one EC P-256 CA certificate in PEM, for the unit tests that need a parseable
 * trust anchor (test_anchors.c knows its subject and key; test_k8s.c needs any CA).
 */
#ifndef TESTCA_H
#define TESTCA_H

static const char ec_ca_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBmTCCAT+gAwIBAgIURCqp0RLV//km8o3IT8cn+0nnXdAwCgYIKoZIzj0EAwIw\n"
	"ITEfMB0GA1UEAwwWZWNyLXJlZnJlc2ggdW5pdCBFQyBDQTAgFw0yNjExMjkwOTUx\n"
	"NTdaGA8yMTI2MTEwNTA5NTE1N1owITEfMB0GA1UEAwwWZWNyLXJlZnJlc2ggdW5p\n"
	"dCBFQyBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABPTLNUGGFttscqLzjplf\n"
	"Jn/1rghpFxMwhujqUynFFjBgEvGqbJmrybWpZud6EjXB+y2vJckMjzQcI6fuq0a5\n"
	"f96jUzBRMB0GA1UdDgQWBBSsi6T6HWlefYRc5wVSOX/yFxm8sTAfBgNVHSMEGDAW\n"
	"gBSsi6T6HWlefYRc5wVSOX/yFxm8sTAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49\n"
	"BAMCA0gAMEUCIQDhgIPr8sN9Tl0mlQgAto0fbNsJwt3QvO/FqFzSl9OLGgIgGgiV\n"
	"8DEgZS73zv7+UZObdwwlVH2k3W4nQa8ZfejP/2M=\n"
	"-----END CERTIFICATE-----\n";

#endif
