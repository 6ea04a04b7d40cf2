# vault policy write app examples/approle-wrapped/app-policy.hcl
# Read access to the one secret the app needs (KV v2 at secret/: the API path has data/).
path "secret/data/app" {
  capabilities = ["read"]
}
