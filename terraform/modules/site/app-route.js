// CloudFront Function (viewer request) for the web app's default behavior:
// a path whose last segment names no file is the app itself, so /, /chat and
// managed login's /?code=… all get index.html; /js/main.js is the file, and a
// file that does not exist stays a 404.
function handler(event) {
  var request = event.request;
  var last = request.uri.split('/').pop();
  if (last.indexOf('.') === -1) {
    request.uri = '/index.html';
  }
  return request;
}
