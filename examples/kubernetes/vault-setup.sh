#!/bin/sh
# The Vault side of the kubernetes example, run once by an operator with a Vault token that
# may manage auth methods and policies (and kubectl access to the cluster).
set -eu

vault auth enable kubernetes
# Vault running inside the cluster can use its own service account to call TokenReview:
vault write auth/kubernetes/config kubernetes_host="https://kubernetes.default.svc:443"

vault policy write app - <<'HCL'
path "secret/data/app" {
  capabilities = ["read"]
}
HCL

# Only the service account "app" in namespace "shop" may log in as role "app".
vault write auth/kubernetes/role/app \
  bound_service_account_names=app \
  bound_service_account_namespaces=shop \
  token_policies=app \
  token_ttl=10m

vault kv put secret/app db_password='correct horse battery staple'

# The CA that signed Vault's certificate, for VAULT_CACERT in the pod:
# kubectl -n shop create configmap vault-ca --from-file=ca.crt=vault-ca.pem
