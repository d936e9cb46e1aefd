package gateway

// NextStep exposes the adaptive step size to the external tests.
var NextStep = nextStep
