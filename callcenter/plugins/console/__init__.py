"""Agent console and supervisor wallboard (坐席工作台 / 班长监控大屏); routes in
callcenter.plugins.console.routes."""
