package httpapi

// OpenAPIDocument is the API's OpenAPI document, as GET /api/openapi.json serves it: what the
// tests hold every answer to.
func OpenAPIDocument() []byte { return openAPIDocument }
