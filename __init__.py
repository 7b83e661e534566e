"""QGIS plugin entry point. Side-effect free: the plugin class is imported only when QGIS asks."""


def classFactory(iface):  # noqa: N802 (QGIS API name)
    from .plugin.plugin import ReminePlugin

    return ReminePlugin(iface)
