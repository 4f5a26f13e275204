import { render } from 'preact'

render(<p>Parley inbox</p>, document.getElementById('app')!)
