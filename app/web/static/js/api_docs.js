// Start the API reference the page asks for (Swagger UI or ReDoc) on the
// server's own schema. Loaded as a classic script after the vendored bundle.
(function () {
  const root = document.getElementById("api-reference");
  const url = root.dataset.openapiUrl;
  const TOKEN_KEY = "rewardforge.apiToken"; // where the dashboard keeps the token (api.js)

  function savedToken() {
    try {
      return localStorage.getItem(TOKEN_KEY) || "";
    } catch {
      return "";
    }
  }

  if (root.dataset.renderer === "swagger") {
    window.SwaggerUIBundle({
      url,
      domNode: root,
      deepLinking: true,
      tryItOutEnabled: false,
      validatorUrl: null, // the default asks validator.swagger.io about our schema
      // "Try it out" carries the token saved on the dashboard, unless one was given here.
      requestInterceptor(request) {
        const token = savedToken();
        if (token && !request.headers.Authorization) {
          request.headers.Authorization = `Bearer ${token}`;
        }
        return request;
      },
    });
  } else {
    window.Redoc.init(url, { hideDownloadButton: false, expandResponses: "200,201" }, root);
  }
})();
