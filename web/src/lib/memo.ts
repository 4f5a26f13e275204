// memo() without preact/compat (which would add its whole shim to the initial bundle).
import { Component, type ComponentChild, type FunctionComponent } from 'preact'

export function memo<P extends object>(fn: FunctionComponent<P>) {
  return class Memo extends Component<P> {
    override shouldComponentUpdate(next: P): boolean {
      const prev = this.props as Record<string, unknown>
      for (const k in next) if ((next as Record<string, unknown>)[k] !== prev[k]) return true
      for (const k in prev) if (!(k in next)) return true
      return false
    }
    override render(props: P): ComponentChild {
      return fn(props)
    }
  }
}
