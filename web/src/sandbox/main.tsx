// Placeholder entry for the customer simulator; its owner (the sandbox work) replaces it.
import { render } from 'preact'

render(<p>The customer simulator is not built yet.</p>, document.getElementById('app')!)
