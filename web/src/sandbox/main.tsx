// Entry of the customer simulator page (web/sandbox.html, served at /sandbox).
import { render } from 'preact'
import { createSimulator } from './state.ts'
import { Simulator } from './Simulator.tsx'
import './sandbox.css'

const sim = createSimulator()
render(<Simulator sim={sim} />, document.getElementById('app')!)
void sim.boot()
